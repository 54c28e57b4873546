### Citizen pages: start, evidence list, upload form, evidence detail, delete and erase.

## Start page

start-title = Welcome to tresor
start-intro-what = Here you can keep evidence for the city in a safe place. For example proof of income or proof of address.
start-intro-encrypted = Your evidence is stored encrypted. The city can only see it with your permission.
start-intro-login = You log in with your online ID.
login-heading = Log in
login-with-online-id = Log in with your online ID
login-unavailable = You cannot log in right now. Please try again later.
go-to-my-evidence = Go to my evidence

## Evidence list

evidence-list-title = My evidence
evidence-table-caption = Your stored evidence
column-type = Type of evidence
column-stored-on = Stored on
column-file = File
has-file-yes = Yes
has-file-no = No
evidence-list-empty = You have not stored any evidence yet.
add-evidence = Add evidence

## Choose a type

choose-type-title = Which evidence do you want to add?
choose-type-legend = Type of evidence
needs-higher-level = For this you must log in with security level “high”.
continue = Continue
no-types-available = You cannot add evidence right now.

## Upload form

upload-intro = Please fill in the form.
required-explanation = You must fill in fields marked “(required)”.
required-marker = (required)
error-summary-title = Please check your answers
error-label = Error:
date-hint = For example 27 3 2007
money-hint = Amount in euros (EUR). For example 1250.50.
select-placeholder = Please choose
file-label = File
save-evidence = Save evidence
cancel = Cancel

## Evidence detail

stored-on = Stored on
details-heading = Details
no-details = There are no other details.
file-heading = File
download-file = Download file
no-file = There is no file for this evidence.
delete-evidence = Delete evidence
back-to-list = Back to my evidence

## Delete confirmation

delete-confirm-title = Really delete this evidence?
delete-confirm-which = You want to delete this evidence:
cannot-be-undone = You cannot undo this.
delete-gone-for-good = The evidence and its file will be gone for good.
delete-for-good = Yes, delete for good
keep-it = No, keep it

## Erase account

erase-title = Delete your account and all evidence
erase-key-explanation = Your evidence is locked with a key. This key exists only for you.
erase-shred-explanation = If you delete your account, we destroy this key. Then nobody can read your evidence any more. Not even us. Not even from backup copies.
erase-afterwards = You can log in again later. But your old evidence will be gone.
erase-confirm-label = I understand: all my evidence will be gone for good.
erase-for-good = Delete account for good

## Hints under form fields

text-length-hint = At most { $max } characters.
integer-range-hint = A whole number from { $min } to { $max }.
file-hint = You can upload PDF, PNG or JPEG. The file can be at most { $size }.

## Confirmations

notice-stored = Your evidence is stored. Only you can see it until you share it with an office.
notice-deleted = The evidence is deleted.
erased-title = Your account is deleted
erased-text = Your key is destroyed. Nobody can read your evidence any more.

## The log: who did what

access-log-others-heading = Access by offices and the city
access-log-others-caption = Access by offices and the city, newest first
access-log-others-empty = No office accessed your data on this page.
access-log-own-heading = What you did yourself
access-log-own-caption = Your own actions, newest first
access-for-service = For: { $service }
access-fields = Details: { $fields }
access-reference = The office's case reference: { $reference }
access-under-grant = With your approval
access-under-grant-use = Use { $count } of your approval
access-log-proof-question = What does “checked” mean?
access-log-proof-explained = Every entry is part of a chain that the vault signs. “Checked” means: the entry is in this chain and was not changed. “Follows soon” means: the entry is new and will be in the next signature in a few minutes.
access-log-checkpoint = The signature we checked against covers { $count } entries.

## My data (access under GDPR Art. 15 and 20)

my-data-link = Download all my data
my-data-title = Download my data
my-data-intro = You get everything the vault has stored about you, in one ZIP file:
my-data-evidence = Your evidence with all details and files
my-data-grants = Your approvals for offices
my-data-log = The log of every access, with proofs to check
my-data-formats = To read, there is an overview (summary.html). For other programs the data is in data.json and access-log.json.
my-data-audited = This download is in the log too.
my-data-button = Download my data (ZIP)
summary-title = My data at tresor
summary-exported-at = Downloaded on
summary-not-included = Not included, because they need a more secure login. Log in with your online ID card to include them:
summary-log = The log is in access-log.json, exactly as the vault signed it. With it anyone can check that no entry is missing.

## Forms that forgive mistakes: the date input, a file to choose again, a
## restored form, the session's length and the page after it ended
date-day = Day
date-month = Month
date-year = Year
file-choose-again = Please choose the file again. Your browser cannot keep a chosen file when the form comes back.
form-error-label = Form
form-restored = You were logged out in the meantime. What you typed is back. Please check it and then save.
session-timeout-note = You are logged out after { $minutes } minutes without activity. What you typed is not lost: after logging in again you come back to this form with it. Only a chosen file has to be chosen again.
session-expired-title = You were logged out
session-expired-nothing-saved = Your session had ended, so the evidence has not been saved yet.
session-expired-kept = We keep what you typed, encrypted, for { $minutes } minutes. Log in again within that time and you will see the form with what you typed. A chosen file has to be chosen again.
session-expired-login = Log in again and continue
