### Fehlermeldungen, eine je fester Fehlerkennung (`error-` und die Kennung
### mit Bindestrichen). Derselbe Text antwortet in der JSON-Schnittstelle (auf
### Englisch) und auf den Seiten (in der Sprache der Besucherin). Technische
### Einzelheiten für Entwickler stehen im JSON-Feld `detail`, nie hier.

## Seitenüberschriften nach HTTP-Status

error-title-401 = Bitte melden Sie sich an
error-title-403 = Nicht erlaubt
error-title-404 = Nicht gefunden
error-title-413 = Zu groß
error-title-429 = Zu viele Anfragen
error-title-503 = Vorübergehend nicht verfügbar
error-title-server = Technischer Fehler
error-title-other = Das hat nicht geklappt

## Sitzungen, Formulare und der Tresor selbst

error-not-logged-in = Bitte melden Sie sich zuerst an.
error-csrf-token-invalid = Das Formular ist abgelaufen oder kam nicht von dieser Seite. Bitte laden Sie die Seite neu und versuchen Sie es noch einmal.
error-confirmation-required = Bitte bestätigen Sie mit dem Häkchen, dass Sie Ihr Konto löschen wollen.
error-not-found = Das gibt es nicht, oder Sie dürfen es nicht sehen.
error-internal-error = Bei uns ist etwas schiefgegangen. Es wurde nichts geändert. Bitte versuchen Sie es später noch einmal.
error-keys-unavailable = Der Tresor erreicht seinen Schlüsselspeicher (HSM) gerade nicht. Es wurde nichts herausgegeben. Bitte versuchen Sie es in einem Moment noch einmal.
error-store-unavailable = Der Tresor erreicht seine Datenbank gerade nicht. Es wurde nichts geändert. Bitte versuchen Sie es in einem Moment noch einmal.
error-audit-unavailable = Das konnte nicht im Protokoll vermerkt werden, darum wurde nichts getan. Bitte versuchen Sie es später noch einmal.
error-request-timeout = Das hat zu lange gedauert und wurde abgebrochen. Bitte versuchen Sie es gleich noch einmal.
error-service-unavailable = Der Dienst ist gerade ausgelastet oder nicht vollständig erreichbar. Es wurde nichts geändert. Bitte versuchen Sie es später noch einmal.
error-rate-limited = Das waren zu viele Versuche in kurzer Zeit. Bitte warten Sie einen Moment und versuchen Sie es dann noch einmal.
error-too-many-refusals = Zu viele abgelehnte Anfragen mit diesem Zertifikat in kurzer Zeit. Bitte prüfen Sie die Anfragen und versuchen Sie es später noch einmal.

## Anfragen, die der Tresor nicht lesen konnte

error-bad-request = Die Anfrage konnte nicht gelesen werden.
error-invalid-request = Die Anfrage konnte nicht verarbeitet werden.
error-invalid-path = Die Adresse enthält einen ungültigen Teil.
error-invalid-query = Die Adresse enthält einen Parameter, der ungültig ist oder mehrfach vorkommt.
error-invalid-form = Die Formulardaten konnten nicht gelesen werden. Bitte laden Sie die Seite neu und versuchen Sie es noch einmal.
error-invalid-json = Die Anfrage enthält kein gültiges JSON für diesen Aufruf.
error-invalid-encoding = Die Anfrage enthält Text, der kein UTF-8 ist.
error-unsupported-media-type = Die Anfrage wurde in einem Format gesendet, das diese Adresse nicht annimmt. Bitte senden Sie JSON als application/json.
error-method-not-allowed = Diese Adresse nimmt diese Art von Anfrage nicht an.
error-body-too-large = Die Anfrage ist größer, als diese Adresse annimmt.
error-unauthorized = Dafür müssen Sie angemeldet sein.
error-forbidden = Das ist nicht erlaubt.

## Nachweise und Uploads

error-unknown-evidence-type = Diese Art von Nachweis gibt es nicht.
error-invalid-fields = Einige Angaben sind nicht gültig: { $fields }.
error-file-not-allowed = Zu dieser Art von Nachweis kann man keine Datei hochladen.
error-unsupported-file-type = Sie können nur PDF-, PNG- und JPEG-Dateien hochladen. Bitte wählen Sie die Datei neu aus.
error-invalid-file-name = Der Dateiname enthält Steuerzeichen oder unsichtbare Formatierungszeichen (etwa Schreibrichtungszeichen oder Leerzeichen ohne Breite). Bitte benennen Sie die Datei um und wählen Sie sie neu aus.
error-file-too-large = Die Datei ist zu groß. Sie darf höchstens { $limit } groß sein.
error-fields-too-large = Die Angaben sind zusammen zu lang.
error-value-too-long = Die Angabe { $name } ist zu lang.
error-invalid-multipart = Das Hochgeladene konnte nicht gelesen werden. Bitte versuchen Sie es noch einmal.
error-too-many-parts = Der Upload hat zu viele Teile.
error-too-many-files = Zu einem Nachweis gehört höchstens eine Datei.
error-unknown-part = Der Upload enthält einen Teil, den der Tresor nicht kennt.
error-missing-type = Die Art des Nachweises fehlt.
error-upload-timed-out = { $reason ->
    [idle] { $seconds } Sekunden lang kamen keine Daten an, darum wurde der Upload abgebrochen. Es wurde nichts gespeichert. Bitte versuchen Sie es noch einmal.
   *[total] Der Upload hat zu lange gedauert und wurde abgebrochen. Es wurde nichts gespeichert. Bitte versuchen Sie es noch einmal.
}
error-too-many-uploads = Sie haben schon andere Uploads laufen. Bitte warten Sie, bis sie fertig sind, und versuchen Sie es dann noch einmal.
error-uploads-busy = Gerade laufen zu viele Uploads. Es wurde nichts gespeichert. Bitte versuchen Sie es gleich noch einmal.

## Felder eines Nachweises (`fields` einer Antwort `invalid_fields` und das
## Upload-Formular)

field-required = Bitte füllen Sie dieses Feld aus.
field-unknown-field = Dieses Feld gehört nicht zu dieser Art von Nachweis.
field-too-long = Bitte geben Sie höchstens { $max } Zeichen ein.
field-invalid-characters = Dieses Feld enthält Zeilenumbrüche, Tabulatoren, Steuerzeichen oder unsichtbare Formatierungszeichen (etwa Schreibrichtungszeichen oder Leerzeichen ohne Breite). Bitte entfernen Sie diese.
field-invalid-date = Bitte geben Sie ein gültiges Datum ein, zum Beispiel 31.03.2024.
field-invalid-money = Bitte geben Sie einen Betrag in Euro ein, zum Beispiel 1.234,50.
field-invalid-integer = Bitte geben Sie eine ganze Zahl nur mit Ziffern ein.
field-out-of-range = Bitte geben Sie eine ganze Zahl von { $min } bis { $max } ein.
field-invalid-choice = Bitte wählen Sie eine der angebotenen Möglichkeiten.

## Anmelden

error-login-level-too-low = Dafür brauchen Sie eine sicherere Anmeldung. Bitte melden Sie sich mit Ihrem Online-Ausweis an.
error-invalid-state = Dieser Anmelde-Link wurde schon benutzt, ist abgelaufen oder wurde in einem anderen Browser gestartet. Bitte melden Sie sich neu an.
error-invalid-login-hint = Der Anmelde-Hinweis darf höchstens 256 Bytes lang sein und keine Steuerzeichen oder unsichtbaren Formatierungszeichen enthalten.
error-login-cancelled = Die Anmeldung wurde abgebrochen oder abgelehnt.
error-missing-code = Die Anmeldung hat nicht geklappt. Bitte melden Sie sich noch einmal an.
error-no-issuer = Hier ist kein Anmelde-Dienst eingerichtet.
error-unknown-issuer = Diesen Anmelde-Dienst kennt der Tresor nicht.
error-invalid-level = Das Sicherheitsniveau muss niedrig, substanziell oder hoch sein.
error-idp-discovery-failed = Der Anmelde-Dienst ist gerade nicht erreichbar. Bitte versuchen Sie es später noch einmal.
error-idp-configuration-invalid = Die Anmeldung hat nicht geklappt. Bitte melden Sie sich noch einmal an.
error-token-exchange-failed = Die Anmeldung hat nicht geklappt. Bitte melden Sie sich noch einmal an.
error-invalid-id-token = Die Anmeldung hat nicht geklappt. Bitte melden Sie sich noch einmal an.
error-invalid-logout-token = Die Abmelde-Nachricht ist nicht gültig.
error-random-failed = Die Anmeldung hat nicht geklappt. Bitte melden Sie sich noch einmal an.

## Ämter: Zertifikate, Anfragen und Abrufe

error-certificate-required = Diese Schnittstelle ist für Ämter: Bitte zeigen Sie das Client-Zertifikat Ihres Amtes vor.
error-untrusted-proxy = Ein weitergeleitetes Client-Zertifikat gilt nur von einem eingerichteten Proxy.
error-certificate-unknown-ca = Das Client-Zertifikat stammt von keiner Stelle, der dieser Tresor vertraut.
error-certificate-expired = Das Client-Zertifikat ist abgelaufen.
error-certificate-not-yet-valid = Das Client-Zertifikat gilt noch nicht.
error-certificate-no-client-auth = Das Client-Zertifikat ist nicht für die Anmeldung von Clients ausgestellt.
error-certificate-revoked = Das Client-Zertifikat wurde gesperrt.
error-certificate-unknown-department = Das Client-Zertifikat gehört zu keinem Amt, das dieser Tresor kennt.
error-certificate-ambiguous-department = Das Client-Zertifikat gehört zu keinem Amt, das dieser Tresor kennt.
error-certificate-pin-mismatch = Das Client-Zertifikat gehört zu keinem Amt, das dieser Tresor kennt.
error-certificate-malformed = Das Client-Zertifikat konnte nicht gelesen werden.
error-certificate-config = Die Anmeldung der Ämter ist nicht richtig eingerichtet.
error-unknown-service = Dieses Anliegen gibt es nicht. Die Anliegen stehen in den Regeln des Tresors.
error-invalid-reference = Das Aktenzeichen muss 1 bis { $max } Zeichen lang sein, ohne Zeilenumbrüche, Steuerzeichen oder unsichtbare Formatierungszeichen (etwa Schreibrichtungszeichen oder Leerzeichen ohne Breite).
error-wrong-department = Diese Freigabe oder dieses Anliegen gehört zu einem anderen Amt.
error-wrong-service = Diese Freigabe gilt für ein anderes Anliegen.
error-grant-not-yet-valid = Diese Freigabe gilt noch nicht.
error-grant-expired = Diese Freigabe ist abgelaufen. Bitten Sie die Bürgerin oder den Bürger um eine neue.
error-grant-revoked = Die Bürgerin oder der Bürger hat diese Freigabe zurückgenommen.
error-grant-exhausted = Diese Freigabe wurde so oft genutzt, wie erlaubt.

## Einwilligung: die Antwort auf eine Anfrage

error-request-expired = Diese Anfrage ist abgelaufen. Das Amt kann eine neue schicken.
error-request-answered = Diese Anfrage wurde schon beantwortet.
error-invalid-decision = Bitte wählen Sie „Weiter“ oder „Ablehnen“.
error-no-fields-approved = Bitte wählen Sie mindestens eine Angabe. Oder lehnen Sie die Anfrage ab.
error-field-not-in-policy = Eine gewählte Angabe gehört nicht zu diesem Anliegen.
error-evidence-not-found = Ein gewähltes Dokument gibt es nicht mehr.
error-evidence-type-not-requested = Ein gewähltes Dokument braucht das Amt nicht.
error-one-document-per-type = Bitte wählen Sie nur ein Dokument je Art.
error-field-without-document = Bitte wählen Sie für jede Angabe ein Dokument.
error-document-without-field = Bitte geben Sie aus jedem gewählten Dokument mindestens eine Angabe frei.
error-duration-out-of-range = Bitte wählen Sie eine Dauer aus der Liste.
error-uses-out-of-range = Bitte wählen Sie eine Anzahl aus der Liste.
error-file-required = Für dieses Anliegen braucht das Amt die Datei. Sie können die Datei hier nicht weglassen. Wenn Sie die Datei nicht geben möchten, lehnen Sie die Anfrage ab.

## Protokoll: Seiten der Bürgerinnen und Bürger, öffentliche Nachweise

error-invalid-cursor = „before“ muss die Nummer eines Eintrags sein (eine ganze Zahl).
error-invalid-limit = „limit“ muss eine ganze Zahl von 1 bis { $max } sein.
error-no-checkpoint = Es gibt noch keinen signierten Prüfpunkt.
error-invalid-tree-size = { $problem ->
    [not-a-number] Die Baumgrößen „old“ und „new“ müssen ganze Zahlen von Einträgen sein.
    [missing] „old“ (eine Baumgröße) fehlt.
    [order] Die Größen müssen old ≤ new ≤ { $size } erfüllen (die Größe des Protokolls).
   *[no-proof] Für diese Größen gibt es keinen Nachweis.
}

## Datenschutz-Beauftragte

error-staff-login-not-configured = Hier gibt es keine Anmeldung für Mitarbeitende.
error-staff-not-logged-in = Bitte melden Sie sich zuerst mit Ihrem Konto der Stadtverwaltung an.
error-not-a-dpo = Nur Datenschutz-Beauftragte dürfen das Protokoll sehen.
error-invalid-filter = { $problem ->
    [unknown-parameter] Diesen Filter gibt es nicht.
    [repeated] Bitte geben Sie jeden Filter nur einmal an.
    [refused-text] Der Wert ist zu lang oder enthält Steuerzeichen oder unsichtbare Formatierungszeichen.
    [not-a-time] Bitte ein Datum wie 2026-05-31 angeben.
    [unknown-action] Diese Aktion gibt es nicht.
    [unknown-outcome] Dieses Ergebnis gibt es nicht.
    [not-an-identifier] Bitte hier nur Buchstaben, Ziffern und - _ . : verwenden.
    [not-a-citizen] Das ist keine gültige Kennung einer Bürgerin oder eines Bürgers.
    [not-a-sequence] Bitte die Nummer eines Eintrags angeben.
    [limit-out-of-range] Bitte eine Zahl von 1 bis 1000 angeben.
    [unknown-period] Bitte einen der angebotenen Zeiträume wählen.
    [to-before-from] Das End-Datum darf nicht vor dem Start-Datum liegen.
   *[after-and-before] Bitte entweder „after“ (älteste zuerst) oder „before“ (neueste zuerst) angeben, nicht beides.
}

## Dates in three fields (Tag, Monat, Jahr): what is wrong, naming the part
field-date-incomplete = Bitte geben Sie auch { $parts } ein.
field-date-part-day = den Tag
field-date-part-month = den Monat
field-date-part-year = das Jahr
field-date-and = und
field-invalid-day = Bitte geben Sie den Tag als Zahl von 1 bis 31 ein.
field-invalid-month = Bitte geben Sie den Monat als Zahl von 1 bis 12 ein.
field-invalid-year = Bitte geben Sie das Jahr mit vier Ziffern ein, zum Beispiel 2007.
field-year-out-of-range = Bitte geben Sie ein Jahr von { $min } bis { $max } ein.
field-no-such-date = Dieses Datum gibt es nicht: Der Monat hat nicht so viele Tage. Bitte prüfen Sie Tag und Monat.
field-ambiguous-money = Dieser Betrag ist nicht eindeutig. Bitte schreiben Sie Tausender mit Punkt und Cent mit Komma, zum Beispiel 1.234 oder 1,23.
