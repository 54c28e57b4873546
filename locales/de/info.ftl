### The pages a public body must offer: accessibility statement with its
### feedback form, Leichte Sprache, sign language, privacy notice, imprint,
### contact; the footer links to them; the DPO's page of feedback messages.
### The city's names and addresses come from the `[city]` configuration.

## Footer

info-footer-nav-label = Hilfe und Rechtliches
info-nav-accessibility = Barrierefreiheit
info-nav-easy-read = Leichte Sprache
info-nav-sign-language = Gebärdensprache
info-nav-privacy = Datenschutz
info-nav-imprint = Impressum
info-nav-contact = Kontakt

## Shared by the pages

info-example-notice = Beispiel: Diese Angaben sind Beispiele für die Testumgebung. Die Stadt trägt ihre eigenen Angaben ein.
info-not-configured = Die Stadt hat diese Angaben noch nicht eingetragen.
info-label-name = Stadt
info-label-office = Zuständiges Amt
info-label-address = Anschrift
info-label-phone = Telefon
info-label-email = E-Mail
info-label-hours = Sprechzeiten
info-label-website = Internetseite

## Accessibility statement (Erklärung zur Barrierefreiheit)

accessibility-title = Erklärung zur Barrierefreiheit
accessibility-intro = Die Stadt möchte, dass alle Menschen tresor gut nutzen können. Diese Erklärung gilt für alle Seiten von tresor.
accessibility-provider = Wer bietet tresor an?
accessibility-status-heading = Wie barrierefrei ist tresor?
accessibility-status-full = tresor erfüllt die Regeln der BITV 2.0 vollständig.
accessibility-status-partial = tresor erfüllt die Regeln der BITV 2.0 zum Teil. Was noch fehlt, steht unten.
accessibility-status-none = tresor erfüllt die Regeln der BITV 2.0 noch nicht. Was fehlt, steht unten.
accessibility-status-unknown = Die Stadt hat tresor noch nicht geprüft.
accessibility-limits-heading = Was ist noch nicht barrierefrei?
# One barrier per line.
accessibility-limits-list =
    Dateien, die Sie hochladen, prüft tresor nicht. Ein PDF kann also Barrieren haben.
    Die Anmeldung mit dem Online-Ausweis läuft über eine andere Seite. Dafür ist deren Anbieter zuständig.
    Es gibt noch nicht zu jeder Seite ein Video in Gebärdensprache.
    Die Seiten für den Datenschutz der Stadt haben breite Tabellen. Auf dem Handy scrollen Sie darin seitlich.
accessibility-method-heading = Wie hat die Stadt das geprüft?
accessibility-method = Die Stadt hat tresor selbst geprüft. Jede Seite wurde mit einem Prüfprogramm und nur mit der Tastatur getestet.
accessibility-date-label = Stand der Erklärung
accessibility-feedback-heading = Barriere melden
accessibility-feedback-intro = Haben Sie eine Barriere gefunden? Oder brauchen Sie Inhalte in einer anderen Form? Schreiben Sie uns. Sie müssen sich dafür nicht anmelden.
accessibility-feedback-message = Ihre Nachricht
accessibility-feedback-message-hint = Was funktioniert nicht, und auf welcher Seite? Höchstens 5.000 Zeichen.
accessibility-feedback-contact = Wie erreichen wir Sie? (freiwillig)
accessibility-feedback-contact-hint = Zum Beispiel Ihre E-Mail-Adresse. Nur wenn Sie eine Antwort möchten. Höchstens 200 Zeichen.
accessibility-feedback-send = Nachricht senden
accessibility-feedback-sent = Danke! Ihre Nachricht ist angekommen. Die Stadt liest jede Nachricht.
accessibility-feedback-other-ways = Sie erreichen uns auch so:
accessibility-feedback-message-empty = Bitte schreiben Sie Ihre Nachricht.
accessibility-feedback-message-too-long = Ihre Nachricht ist zu lang. Höchstens 5.000 Zeichen.
accessibility-feedback-invalid-characters = Der Text enthält unsichtbare Steuerzeichen. Bitte tippen Sie ihn neu.
accessibility-feedback-contact-too-long = Die Angabe ist zu lang. Höchstens 200 Zeichen.
accessibility-enforcement-heading = Schlichtungsverfahren
accessibility-enforcement-text = Sind Sie mit unserer Antwort nicht zufrieden? Dann können Sie sich an die Schlichtungsstelle wenden. Das Verfahren kostet nichts. Sie brauchen keinen Anwalt.

## Leichte Sprache (easy-read): one idea per line, short sentences.

easy-read-title = tresor in Leichter Sprache
easy-read-intro = Auf dieser Seite erklären wir tresor in Leichter Sprache.
easy-read-what-heading = Was ist tresor?
easy-read-what =
    tresor ist eine Internet·seite von der Stadt.
    tresor ist wie ein Tresor.
    Ein Tresor ist ein sicherer Schrank.
    In tresor können Sie Nachweise speichern.
    Ein Nachweis ist ein wichtiges Papier.
    Zum Beispiel Ihr Lohn·zettel.
    Oder Ihre Miet·bescheinigung.
easy-read-use-heading = Was können Sie mit tresor machen?
easy-read-use =
    Sie speichern Ihre Nachweise einmal.
    Ein Amt braucht Ihre Nachweise.
    Zum Beispiel die Wohn·geld·stelle.
    Dann fragt das Amt Sie in tresor.
    Sie entscheiden selbst.
    Sie können Ja sagen.
    Sie können auch Nein sagen.
    Sie können Ihr Ja später zurück·nehmen.
easy-read-who-heading = Wer sieht Ihre Daten?
easy-read-who =
    Ihre Daten sind verschlüsselt.
    Das heißt: Niemand kann sie einfach lesen.
    Nur Sie sehen Ihre Daten.
    Ein Amt sieht nur die Daten, die Sie frei·geben.
    tresor schreibt jeden Zugriff auf.
    Sie können nach·sehen: Wer hat meine Daten gesehen?
easy-read-login-heading = Wie melden Sie sich an?
easy-read-login =
    Sie brauchen Ihren Personal·ausweis.
    Mit dem Ausweis melden Sie sich an.
    Das heißt: Online·ausweis.
    Sie brauchen dazu ein Handy oder einen Karten·leser.
easy-read-delete-heading = Können Sie Ihre Daten löschen?
easy-read-delete =
    Ja.
    Sie können jeden Nachweis löschen.
    Sie können auch Ihr ganzes Konto löschen.
    Dann sind alle Ihre Daten weg.
easy-read-help-heading = Wer hilft Ihnen?
easy-read-help =
    Sie haben Fragen?
    Dann rufen Sie die Stadt an.
    Oder schreiben Sie eine E-Mail.
    Hier steht, wie Sie die Stadt erreichen:
easy-read-contact-link = Kontakt zur Stadt

## Sign language

sign-language-title = Gebärdensprache
sign-language-intro = Hier finden Sie ein Video in Deutscher Gebärdensprache (DGS). Das Video erklärt, was tresor ist und wie Sie es nutzen.
sign-language-video-link = Video in Deutscher Gebärdensprache ansehen
sign-language-video-note = Das Video liegt auf einer anderen Internetseite der Stadt.
sign-language-no-video = Die Stadt hat noch kein Video eingetragen. Bitte fragen Sie die Stadt.

## Privacy notice (Datenschutzerklärung, GDPR Art. 13)

privacy-title = Datenschutzerklärung
privacy-intro = Hier steht, welche Daten tresor von Ihnen verarbeitet, warum und wie lange. Und welche Rechte Sie haben.
privacy-controller-heading = Wer ist verantwortlich?
privacy-dpo-heading = Datenschutzbeauftragte
privacy-dpo-intro = Bei Fragen zum Datenschutz können Sie sich direkt an die Datenschutzbeauftragte der Stadt wenden.
privacy-purposes-heading = Wofür verarbeitet tresor Ihre Daten?
privacy-purposes-list =
    Um Ihre Nachweise sicher zu speichern, bis Sie sie löschen.
    Um Ihre Daten an ein Amt zu geben, wenn Sie das freigeben.
    Um jeden Zugriff aufzuschreiben, damit Sie und der Datenschutz ihn prüfen können.
    Um Sie sicher anzumelden, mit Ihrem Online-Ausweis.
privacy-legal-heading = Auf welcher Rechtsgrundlage?
privacy-legal-list =
    Freigabe an ein Amt: Ihre Einwilligung (Art. 6 Abs. 1 Buchstabe a DSGVO).
    Speichern Ihrer Nachweise: Aufgabe im öffentlichen Interesse (Art. 6 Abs. 1 Buchstabe e DSGVO).
    Protokoll der Zugriffe: rechtliche Pflicht, Datenschutz nachzuweisen (Art. 6 Abs. 1 Buchstabe c, Art. 5 Abs. 2 DSGVO).
privacy-recipients-heading = Wer bekommt Ihre Daten?
privacy-recipients-list =
    Nur das Amt, dem Sie etwas freigeben. Nur die Angaben, die Sie freigeben.
    Der Dienstleister, der die Server betreibt. Er sieht Ihre Nachweise nur verschlüsselt.
    Niemand sonst. tresor gibt keine Daten in Länder außerhalb der EU.
privacy-processor-label = Betrieb der Server
privacy-retention-heading = Wie lange speichert tresor Ihre Daten?
privacy-retention-evidence = Ihre Nachweise: bis Sie sie löschen oder Ihr Konto löschen.
privacy-retention-log = Einträge im Protokoll der Zugriffe
privacy-retention-session = Ihre Anmeldung endet nach { $idle } Minuten ohne Nutzung. Nach spätestens { $absolute } Stunden endet sie immer.
privacy-rights-heading = Welche Rechte haben Sie?
privacy-rights-list =
    Auskunft über Ihre Daten (Art. 15 DSGVO). Sie können alle Ihre Daten herunterladen.
    Berichtigung falscher Daten (Art. 16 DSGVO).
    Löschung Ihrer Daten (Art. 17 DSGVO). Sie können Ihr Konto selbst löschen.
    Einschränkung der Verarbeitung (Art. 18 DSGVO).
    Ihre Daten in einem üblichen Format (Art. 20 DSGVO).
    Widerspruch gegen die Verarbeitung (Art. 21 DSGVO).
    Sie können jede Freigabe jederzeit zurücknehmen (Art. 7 Abs. 3 DSGVO).
privacy-my-data-link = Alle meine Daten herunterladen
privacy-complaint-heading = Beschwerde
privacy-complaint-text = Sie können sich bei der Aufsichtsbehörde für Datenschutz beschweren (Art. 77 DSGVO).
privacy-voluntary-heading = Müssen Sie tresor nutzen?
privacy-voluntary-text = Nein. Sie können Ihre Nachweise auch im Amt abgeben. Über Sie wird nichts automatisch entschieden.
privacy-cookies-heading = Welche Cookies setzt tresor?
privacy-cookies-text = tresor setzt nur nötige Cookies: für die Anmeldung, die Sprache und die Darstellung. Es gibt keine Werbung und keine Analyse.

## Imprint (Impressum)

imprint-title = Impressum
imprint-provider-heading = Anbieter
imprint-representative = Vertreten durch
imprint-vat-id = Umsatzsteuer-Identifikationsnummer
imprint-content-responsible = Verantwortlich für den Inhalt
imprint-contact-heading = Kontakt

## Contact

contact-title = Kontakt
contact-intro = Sie haben Fragen zu tresor? So erreichen Sie die Stadt.
contact-dpo-heading = Fragen zum Datenschutz
contact-accessibility-heading = Eine Barriere melden
contact-accessibility-link = Zum Formular für Barrieren

## DPO: the feedback messages

dpo-nav-feedback = Rückmeldungen
dpo-feedback-title = Rückmeldungen zur Barrierefreiheit
dpo-feedback-intro = Nachrichten aus dem Formular der Erklärung zur Barrierefreiheit, die neuesten zuerst. Jeder Aufruf dieser Seite steht im Protokoll.
dpo-feedback-empty = Es gibt noch keine Rückmeldungen.
dpo-feedback-received = Eingegangen
dpo-feedback-language = Sprache der Seite
dpo-feedback-contact = Kontakt
dpo-feedback-no-contact = keine Angabe
dpo-feedback-older = Ältere Rückmeldungen

info-nav-services = Welches Amt was fragen darf
services-title = Welches Amt welche Daten anfragen darf
services-intro = Hier steht für jede Leistung, welche Angaben ein Amt von Ihnen anfragen darf, wofür und wie lange. Mehr darf es nicht anfragen. Sie entscheiden bei jeder Anfrage selbst, ob Sie die Angaben freigeben.
services-list-label = Leistungen
services-department = Amt
services-purpose = Wofür
services-legal-basis = Rechtsgrundlage
services-fields = Diese Angaben darf das Amt bekommen
services-files = Dateien
services-files-none = Keine Datei. Das Amt bekommt nur die genannten Angaben.
services-files-required = Die Datei des Nachweises. Sie zeigt mehr als die genannten Angaben.
services-files-optional = Die Datei des Nachweises, nur wenn Sie zustimmen. Sie zeigt mehr als die genannten Angaben. Sie können sie weglassen.
services-duration = Höchstens so lange
services-days = Tage
services-uses = Höchstens so oft abrufbar
services-level = Nötige Anmeldung
services-other-ways = Andere Wege
services-json-link = Diese Liste als offene Daten (JSON)
