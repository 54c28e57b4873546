### Layout of every page: navigation, footer, the access log, error and logged-out pages.

## Layout

skip-to-content = Skip to main content
language-nav-label = Language
main-nav-label = Main menu
nav-my-evidence = My evidence
nav-add-evidence = Add evidence
nav-erase-account = Delete account
nav-logout = Log out
nav-access-log = Who saw my data?
access-log-title = Access to my data
access-log-intro = Every access to your data is listed here. Nobody can secretly remove an entry.
access-log-empty = There are no entries yet.
access-log-when = When
access-log-who = Who
access-log-what = What
access-log-result = Result
access-log-proof = Proof in the log
access-log-proof-ok = checked
access-log-proof-pending = follows soon
access-log-proof-failed = Error! Please report this.
access-log-how-to-check = You can also check every proof yourself. The data for this is here:
access-log-json-link = Log with proofs (JSON)
access-log-older = Older entries
actor-you = You
actor-system = tresor (automatic)
actor-staff = City data protection
outcome-success = done
outcome-refused = refused
outcome-failed = failed
action-login = Login
action-logout = Logout
action-upload = Evidence uploaded
action-view = Evidence viewed
action-download = File downloaded
action-delete = Evidence deleted
action-erase = Account deleted
action-release = Data given to an office
action-request-create = An office asked for data
action-request-approve = Approval given
action-request-deny = Request denied
action-grant-revoke = Approval revoked
action-other = Other access
logged-in-status = You are logged in.
login-level-prefix = Security level:
# Shown in both languages at once on every page in development mode.
dev-mode-banner = Development mode – test logins, throwaway keys, no real data
footer-text = tresor – the safe place for your evidence at the city.
# Put in front of the page title when a form has errors.
error-title-prefix = Error

## Error page

error-code-label = Error number:
back-to-start = Go to the start page

## Logged out

logged-out-title = You are logged out
logged-out-text = Thank you for your visit. You can close this window now.
login-again = Log in again

## Numbers, sizes and times (shared by every page)

# A file size below 1 kB; larger sizes are written with a unit (kB, MB, ...).
bytes = { $count ->
    [one] 1 byte
   *[other] { $count } bytes
}
days = { $count ->
    [one] 1 day
   *[other] { $count } days
}
times = { $count ->
    [1] once
    [2] twice
   *[other] { $count } times
}
# A date and a time of day in German civil time.
date-time = { $date }, { $time } (German time)
login-level = { $level ->
    [low] low
    [substantial] substantial
   *[high] high (online ID card)
}

## Display: larger text and high contrast (without JavaScript, like the language)

display-nav-label = Display
display-text-normal = Normal text
display-text-large = Large text
display-contrast-normal = Normal contrast
display-contrast-high = High contrast
