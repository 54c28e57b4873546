### Citizen pages: start, evidence list, upload form, evidence detail, delete and erase.

## Start page

start-title = Willkommen bei tresor
start-intro-what = Hier können Sie Nachweise für die Stadt sicher aufbewahren. Zum Beispiel eine Einkommens-Bescheinigung oder eine Melde-Bescheinigung.
start-intro-encrypted = Ihre Nachweise werden verschlüsselt gespeichert. Nur mit Ihrer Erlaubnis kann die Stadt sie sehen.
start-intro-login = Sie melden sich mit Ihrem Online-Ausweis an.
login-heading = Anmelden
login-with-online-id = Mit Online-Ausweis anmelden
login-unavailable = Die Anmeldung ist gerade nicht möglich. Bitte versuchen Sie es später noch einmal.
go-to-my-evidence = Zu meinen Nachweisen

## Evidence list

evidence-list-title = Meine Nachweise
evidence-table-caption = Ihre gespeicherten Nachweise
column-type = Art des Nachweises
column-stored-on = Gespeichert am
column-file = Datei
has-file-yes = Ja
has-file-no = Nein
evidence-list-empty = Sie haben noch keine Nachweise gespeichert.
add-evidence = Nachweis hinzufügen

## Choose a type

choose-type-title = Welchen Nachweis möchten Sie hinzufügen?
choose-type-legend = Art des Nachweises
needs-higher-level = Dafür brauchen Sie eine Anmeldung mit Sicherheitsniveau „hoch“.
continue = Weiter
no-types-available = Sie können gerade keine Nachweise hinzufügen.

## Upload form

upload-intro = Bitte füllen Sie das Formular aus.
required-explanation = Felder mit „(Pflichtfeld)“ müssen Sie ausfüllen.
required-marker = (Pflichtfeld)
error-summary-title = Bitte prüfen Sie Ihre Angaben
error-label = Fehler:
date-hint = Zum Beispiel 27 3 2007
money-hint = Betrag in Euro (EUR). Zum Beispiel 1250,50.
select-placeholder = Bitte wählen
file-label = Datei
save-evidence = Nachweis speichern
cancel = Abbrechen

## Evidence detail

stored-on = Gespeichert am
details-heading = Angaben
no-details = Es gibt keine weiteren Angaben.
file-heading = Datei
download-file = Datei herunterladen
no-file = Zu diesem Nachweis gibt es keine Datei.
delete-evidence = Nachweis löschen
back-to-list = Zurück zu meinen Nachweisen

## Delete confirmation

delete-confirm-title = Nachweis wirklich löschen?
delete-confirm-which = Sie möchten diesen Nachweis löschen:
cannot-be-undone = Das können Sie nicht rückgängig machen.
delete-gone-for-good = Der Nachweis und seine Datei sind danach für immer weg.
delete-for-good = Ja, für immer löschen
keep-it = Nein, behalten

## Erase account

erase-title = Konto und alle Nachweise löschen
erase-key-explanation = Ihre Nachweise sind mit einem Schlüssel verschlüsselt. Diesen Schlüssel gibt es nur für Sie.
erase-shred-explanation = Wenn Sie Ihr Konto löschen, vernichten wir diesen Schlüssel. Dann kann niemand Ihre Nachweise mehr lesen. Auch wir nicht. Auch nicht aus Sicherungs-Kopien.
erase-afterwards = Sie können sich später wieder anmelden. Ihre alten Nachweise sind dann aber weg.
erase-confirm-label = Ich habe verstanden: Alle meine Nachweise sind dann für immer weg.
erase-for-good = Konto für immer löschen

## Hinweise unter Formularfeldern

text-length-hint = Höchstens { $max } Zeichen.
integer-range-hint = Eine ganze Zahl von { $min } bis { $max }.
file-hint = Erlaubt sind PDF, PNG und JPEG. Die Datei darf höchstens { $size } groß sein.

## Bestätigungen

notice-stored = Ihr Nachweis ist gespeichert. Nur Sie sehen ihn, bis Sie ihn für ein Amt freigeben.
notice-deleted = Der Nachweis ist gelöscht.
erased-title = Ihr Konto ist gelöscht
erased-text = Ihr Schlüssel ist vernichtet. Niemand kann Ihre Nachweise mehr lesen.

## Das Protokoll: wer was getan hat

access-log-others-heading = Zugriffe von Ämtern und der Stadt
access-log-others-caption = Zugriffe von Ämtern und der Stadt, die neuesten zuerst
access-log-others-empty = Auf dieser Seite hat kein Amt auf Ihre Daten zugegriffen.
access-log-own-heading = Was Sie selbst getan haben
access-log-own-caption = Ihre eigenen Aktionen, die neuesten zuerst
access-for-service = Für: { $service }
access-fields = Angaben: { $fields }
access-reference = Aktenzeichen des Amts: { $reference }
access-under-grant = Mit Ihrer Freigabe
access-under-grant-use = { $count }. Nutzung Ihrer Freigabe
access-log-proof-question = Was heißt „geprüft“?
access-log-proof-explained = Jeder Eintrag ist Teil einer Kette, die der Tresor unterschreibt. „Geprüft“ heißt: Der Eintrag steht in dieser Kette und wurde nicht verändert. „Folgt bald“ heißt: Der Eintrag ist neu und kommt in wenigen Minuten in die nächste Unterschrift.
access-log-checkpoint = Die Unterschrift, gegen die wir geprüft haben, umfasst { $count } Einträge.

## Meine Daten (Auskunft nach DSGVO Art. 15 und 20)

my-data-link = Alle meine Daten herunterladen
my-data-title = Meine Daten herunterladen
my-data-intro = Sie bekommen alles, was der Tresor über Sie gespeichert hat, in einer ZIP-Datei:
my-data-evidence = Ihre Nachweise mit allen Angaben und Dateien
my-data-grants = Ihre Freigaben für Ämter
my-data-log = Das Protokoll aller Zugriffe, mit Nachweisen zum Prüfen
my-data-formats = Zum Lesen gibt es eine Übersicht (summary.html). Für andere Programme stehen die Daten als JSON in data.json und access-log.json.
my-data-audited = Auch dieses Herunterladen steht im Protokoll.
my-data-button = Meine Daten herunterladen (ZIP)
summary-title = Meine Daten bei tresor
summary-exported-at = Heruntergeladen am
summary-not-included = Nicht enthalten, weil dafür eine sicherere Anmeldung nötig ist. Melden Sie sich mit Ihrem Online-Ausweis an, dann sind sie dabei:
summary-log = Das Protokoll steht in access-log.json, genau so, wie der Tresor es unterschrieben hat. Damit kann jeder prüfen, dass kein Eintrag fehlt.

## Forms that forgive mistakes: the date input, a file to choose again, a
## restored form, the session's length and the page after it ended
date-day = Tag
date-month = Monat
date-year = Jahr
file-choose-again = Bitte wählen Sie die Datei noch einmal aus. Der Browser kann eine gewählte Datei nicht behalten, wenn das Formular zurückkommt.
form-error-label = Formular
form-restored = Sie waren zwischendurch abgemeldet. Ihre Eingaben sind wieder da. Bitte prüfen Sie sie und speichern Sie dann.
session-timeout-note = Sie werden nach { $minutes } Minuten ohne Aktivität abgemeldet. Ihre Eingaben gehen dabei nicht verloren: Nach der neuen Anmeldung kommen Sie mit Ihren Eingaben zu diesem Formular zurück. Nur eine gewählte Datei müssen Sie dann noch einmal auswählen.
session-expired-title = Sie wurden abgemeldet
session-expired-nothing-saved = Ihre Sitzung war abgelaufen. Deshalb wurde der Nachweis noch nicht gespeichert.
session-expired-kept = Ihre Eingaben bewahren wir { $minutes } Minuten lang verschlüsselt auf. Melden Sie sich in dieser Zeit neu an, dann sehen Sie das Formular mit Ihren Eingaben wieder. Eine gewählte Datei müssen Sie noch einmal auswählen.
session-expired-login = Neu anmelden und weitermachen
