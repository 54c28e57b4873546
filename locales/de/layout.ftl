### Layout of every page: navigation, footer, the access log, error and logged-out pages.

## Layout

skip-to-content = Zum Inhalt springen
language-nav-label = Sprache
main-nav-label = Hauptmenü
nav-my-evidence = Meine Nachweise
nav-add-evidence = Nachweis hinzufügen
nav-erase-account = Konto löschen
nav-logout = Abmelden
nav-access-log = Wer hat meine Daten gesehen?
access-log-title = Zugriffe auf meine Daten
access-log-intro = Hier steht jeder Zugriff auf Ihre Daten. Niemand kann einen Eintrag heimlich löschen.
access-log-empty = Es gibt noch keine Einträge.
access-log-when = Wann
access-log-who = Wer
access-log-what = Was
access-log-result = Ergebnis
access-log-proof = Nachweis im Protokoll
access-log-proof-ok = geprüft
access-log-proof-pending = folgt bald
access-log-proof-failed = Fehler! Bitte melden Sie das.
access-log-how-to-check = Sie können jeden Nachweis auch selbst prüfen. Die Daten dafür gibt es hier:
access-log-json-link = Protokoll mit Nachweisen (JSON)
access-log-older = Ältere Einträge
actor-you = Sie
actor-system = tresor (automatisch)
actor-staff = Datenschutz der Stadt
outcome-success = erfolgt
outcome-refused = abgelehnt
outcome-failed = fehlgeschlagen
action-login = Anmeldung
action-logout = Abmeldung
action-upload = Nachweis hochgeladen
action-view = Nachweis angesehen
action-download = Datei heruntergeladen
action-delete = Nachweis gelöscht
action-erase = Konto gelöscht
action-release = Daten an ein Amt gegeben
action-request-create = Anfrage eines Amts gestellt
action-request-approve = Freigabe erteilt
action-request-deny = Anfrage abgelehnt
action-grant-revoke = Freigabe widerrufen
action-other = Sonstiger Zugriff
logged-in-status = Sie sind angemeldet.
login-level-prefix = Sicherheitsniveau:
# Shown in both languages at once on every page in development mode.
dev-mode-banner = Entwicklungsmodus – Test-Anmeldungen, Wegwerf-Schlüssel, keine echten Daten
footer-text = tresor – der sichere Ort für Ihre Nachweise bei der Stadt.
# Put in front of the page title when a form has errors.
error-title-prefix = Fehler

## Error page

error-code-label = Fehler-Nummer:
back-to-start = Zur Startseite

## Logged out

logged-out-title = Sie sind abgemeldet
logged-out-text = Danke für Ihren Besuch. Sie können das Fenster jetzt schließen.
login-again = Wieder anmelden

## Zahlen, Größen und Zeiten (für alle Seiten)

# Eine Dateigröße unter 1 kB; größere stehen mit Einheit (kB, MB, ...).
bytes = { $count ->
    [one] 1 Byte
   *[other] { $count } Bytes
}
days = { $count ->
    [one] 1 Tag
   *[other] { $count } Tage
}
times = { $count ->
   *[other] { $count } Mal
}
# Ein Datum und eine Uhrzeit in deutscher Zeit.
date-time = { $date }, { $time } Uhr
login-level = { $level ->
    [low] niedrig
    [substantial] substanziell
   *[high] hoch (Online-Ausweis)
}

## Darstellung: größere Schrift und hoher Kontrast (ohne JavaScript, wie die Sprache)

display-nav-label = Darstellung
display-text-normal = Normale Schrift
display-text-large = Große Schrift
display-contrast-normal = Normaler Kontrast
display-contrast-high = Hoher Kontrast
