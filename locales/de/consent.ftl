### Consent: a department's access request, step-up login, the citizen's grants.

## Consent (a department's access request) and grants

nav-grants = Meine Freigaben
go-to-my-grants = Zu meinen Freigaben
consent-who-heading = Wer fragt und warum?
consent-department = Amt
consent-service = Ihr Anliegen
consent-purpose = Wozu das Amt die Daten braucht
consent-legal-basis = Rechtsgrundlage
consent-reference = Aktenzeichen des Amts
consent-answer-until = Sie können antworten bis
consent-you-decide = Sie entscheiden. Das Amt bekommt nur, was Sie hier auswählen.
consent-choose-heading = Welche Daten möchten Sie teilen?
consent-choose-intro = Wählen Sie für jede Art von Nachweis ein Dokument. Sie können einzelne Angaben abwählen.
consent-files-shared = Das Amt bekommt auch die Datei des Dokuments, zum Beispiel das PDF.
consent-which-document = Welches Dokument?
consent-do-not-share = Dieses Dokument nicht teilen
consent-which-details = Welche Angaben?
consent-not-given = (nicht angegeben)
consent-no-document = Sie haben noch kein Dokument dieser Art gespeichert.
consent-no-document-nothing-shared = Deshalb bekommt das Amt dazu nichts.
consent-come-back = Nach dem Hochladen kommen Sie auf diese Seite zurück.
consent-limits-legend = Wie lange und wie oft?
consent-duration-label = Wie lange darf das Amt die Daten abrufen?
consent-uses-label = Wie oft darf das Amt die Daten abrufen?
consent-revoke-later = Sie können die Freigabe jederzeit zurücknehmen. Das geht unter „Meine Freigaben“.
consent-approve = Freigeben
consent-deny = Ablehnen
step-up-title = Sicherere Anmeldung nötig
step-up-how-high = Das geht mit Ihrem Online-Ausweis. Zum Beispiel mit dem Personalausweis und Ihrer PIN.
step-up-how-other = Das geht zum Beispiel mit Ihrem Online-Ausweis.
step-up-no-data-yet = Ihre Daten zeigen wir erst nach der neuen Anmeldung.
step-up-button = Neu anmelden
request-expired-title = Diese Anfrage ist abgelaufen
request-expired-text = Sie können nicht mehr antworten. Das Amt hat keine Daten bekommen. Das Amt kann Ihnen eine neue Anfrage schicken.
request-answered-title = Diese Anfrage ist schon beantwortet
request-answered-text = Man kann jede Anfrage nur einmal beantworten.
request-not-found-title = Diese Anfrage gibt es nicht
request-not-found-text = Bitte prüfen Sie den Link. Oder bitten Sie das Amt um einen neuen Link.
grants-title = Meine Freigaben
grants-intro = Hier sehen Sie, welche Ämter Ihre Daten abrufen dürfen. Sie können jede Freigabe sofort zurücknehmen.
grants-empty = Sie haben noch keine Daten freigegeben.
grants-fields = Geteilte Angaben
grants-given-on = Freigegeben am
grants-valid-until = Gültig bis
grants-uses = Abrufe
grants-status = Stand
grant-status-active = aktiv
grant-status-expired = abgelaufen
grant-status-revoked = zurückgenommen
grant-status-used-up = aufgebraucht
grants-revoke-now = Jetzt zurücknehmen
grants-notice-approved = Sie haben die Daten freigegeben. Das Amt kann sie jetzt abrufen.
grants-notice-denied = Sie haben die Anfrage abgelehnt. Das Amt bekommt keine Daten.
grants-notice-revoked = Sie haben die Freigabe zurückgenommen. Das Amt kann die Daten ab jetzt nicht mehr abrufen.

## Sätze mit Namen und Zahlen

consent-heading = { $department } bittet um Ihre Daten
step-up-who = { $department } fragt nach Daten für: { $service }.
step-up-levels = Dafür brauchen Sie eine Anmeldung mit dem Sicherheitsniveau „{ $required }“. Jetzt sind Sie mit „{ $current }“ angemeldet.
duration-hint = Höchstens { $days }. Das ist bis { $date }.
uses-hint = Höchstens { $times }.
document-from = Dokument vom { $date }
file-shared = Die Datei „{ $name }“ ({ $kind }, { $size }) bekommt das Amt auch.
uses-of = { $uses } von { $max }

## Eine Freigabe zurücknehmen

grants-with-files = Das Amt bekommt auch die Datei zu jedem gewählten Dokument.
revoke-confirm-title = Freigabe zurücknehmen?
revoke-stops = Danach kann { $department } diese Daten nicht mehr abrufen.
revoke-fetched-stays = Was das Amt schon abgerufen hat, bleibt beim Amt. Wenn es das löschen soll, fragen Sie bitte dort nach.
revoke-confirm-button = Ja, Freigabe zurücknehmen
revoke-keep = Nein, Freigabe behalten

## Kontakt und was Ablehnen bedeutet

consent-contact = So erreichen Sie das Amt
consent-deny-heading = Wenn Sie ablehnen
consent-deny-means = Dann bekommt das Amt von hier keine Daten. Ihr Antrag ist damit nicht abgelehnt: Sie können die Nachweise auch anders einreichen.

## Consent: the summary before sending, and the file

consent-continue = Weiter
consent-file-legend = Die Datei zum Dokument
consent-file-shows-more = Die Datei zeigt alles, was im Dokument steht – auch Angaben, die Sie oben nicht ankreuzen. Ein Beispiel: Wenn Sie „Vornamen“ nicht ankreuzen, stehen die Vornamen trotzdem in der Datei.
consent-file-needed = Für dieses Anliegen braucht das Amt die Datei. Wenn Sie die Datei nicht geben möchten, lehnen Sie die Anfrage ab. Sie können Ihre Nachweise auch auf anderem Weg abgeben.
consent-file-leave-out = Datei nicht mitschicken
consent-file-leave-out-hint = Dann bekommt das Amt nur die angekreuzten Angaben. Das Amt kann Sie später noch um die Datei bitten.
consent-summary-title = Bitte prüfen Sie, was Sie freigeben
consent-summary-nothing-yet = Noch ist nichts freigegeben. Das Amt bekommt die Daten erst, wenn Sie unten auf „Freigeben“ drücken.
consent-summary-to-whom = An wen?
consent-summary-which-data = Welche Daten?
consent-summary-file = Datei
consent-summary-file-none = Keine Datei. Die gewählten Dokumente haben keine Datei.
consent-summary-file-left-out = Keine Datei. Sie schicken die Datei nicht mit.
consent-summary-file-shows-more = Die Datei zeigt alles, was im Dokument steht – auch Angaben, die Sie nicht angekreuzt haben.
consent-summary-how-long = Bis wann?
consent-summary-how-often = Wie oft?
consent-summary-change = Ändern
consent-summary-share-hint = Mit „Freigeben“ geben Sie dem Amt diese Daten frei. Sie können die Freigabe jederzeit zurücknehmen.
grants-files-left-out = Die Dateien haben Sie nicht mitgeschickt.
consent-summary-until = bis zum { $date } ({ $days })
