### Pages of data-protection officers: audit query, statistics, verification.

## Data-protection officers

dpo-nav-label = Menü Datenschutz
dpo-nav-query = Protokoll abfragen
dpo-nav-stats = Statistik
dpo-nav-verify = Protokoll prüfen
dpo-logout = Abmelden
dpo-staff-status = Sie sind als Datenschutz-Beauftragte oder Datenschutz-Beauftragter angemeldet.
dpo-staff-login = Als Mitarbeiterin oder Mitarbeiter anmelden
dpo-query-title = Zugriffs-Protokoll abfragen
dpo-query-intro = Jede Abfrage wird selbst im Protokoll vermerkt.
dpo-filter-legend = Filter
dpo-field-from = Von (Datum, UTC)
dpo-field-to = Bis einschließlich (Datum, UTC)
dpo-field-action = Aktion
dpo-field-outcome = Ergebnis
dpo-field-department = Amt
dpo-field-service = Verfahren
dpo-field-citizen = Kennung der Bürgerin oder des Bürgers
dpo-any-option = Alle
dpo-outcome-success = erfolgreich
dpo-outcome-refused = abgelehnt
dpo-outcome-failed = fehlgeschlagen
dpo-search = Suchen
dpo-results-caption = Gefundene Einträge, neueste zuerst
dpo-no-results = Keine Einträge passen zu diesen Filtern.
dpo-column-sequence = Nr.
dpo-column-time = Zeit (UTC)
dpo-column-actor = Wer
dpo-column-subject = Betrifft
dpo-column-reason = Grund
dpo-next-page = Weitere Einträge
dpo-export-heading = Exportieren
dpo-export-csv = Als CSV-Datei herunterladen
dpo-export-jsonl = Als JSON-Lines-Datei herunterladen
dpo-stats-title = Zugriffe je Amt und Monat
dpo-stats-intro = Gezählt werden Freigaben an Ämter. Die Monate gelten nach deutscher Zeit.
dpo-stats-empty = In diesem Zeitraum gab es keine Zugriffe.
dpo-stats-table-caption = Zugriffe je Amt und Monat als Tabelle
dpo-stats-chart-title = Balkendiagramm: Zugriffe je Amt und Monat
dpo-stats-column-month = Monat
dpo-stats-column-granted = Zugriffe
dpo-stats-column-refused = Abgelehnte Versuche
dpo-unknown-department = ohne Amt
dpo-verify-ok = Das Protokoll ist unverändert. Alle Prüfungen waren erfolgreich.
dpo-verify-failed = Die Prüfung hat Fehler gefunden
dpo-verify-what = Was geprüft wurde

## Statistik-Diagramm

stats-chart-summary = { $bars } Balken mit zusammen { $total } Zugriffen. Der größte Balken zeigt { $largest }.

## Was die Prüfung des Protokolls ergab

verify-tree-recomputed = Der Hash-Baum wurde aus allen { $entries } Einträgen neu berechnet. { $bodies } Eintrags-Texte passen zu ihrem Hash und zu den Suchspalten. { $pruned } Texte sind nach Ablauf der Aufbewahrung gelöscht.
verify-checkpoints-matched = { $count } signierte Prüfpunkte passen zum neu berechneten Baum.
verify-latest-checkpoint = Neuester Prüfpunkt: { $size } Einträge, Wurzel-Hash { $root }. Die Signatur ist gültig.
verify-no-checkpoint-yet = Es gibt noch keinen signierten Prüfpunkt.
verify-sequence-gap = Eintrag { $expected } fehlt. Einträge wurden gelöscht oder umnummeriert.
verify-tail-missing = Das Protokoll zählt { $head_size } Einträge, gespeichert sind nur { $log_size }. Die letzten Einträge fehlen.
verify-body-mismatch = Eintrag { $index }: Der Text passt nicht zu seinem Hash oder seiner Nummer. Er wurde verändert.
verify-column-mismatch = Eintrag { $index }: Die Suchspalte „{ $column }“ passt nicht zum signierten Text. Der Eintrag wurde in Abfragen versteckt oder verschoben.
verify-signature-invalid = Prüfpunkt über { $size } Einträge: Die Signatur ist nicht gültig.
verify-checkpoint-beyond-log = Ein Prüfpunkt nennt { $size } Einträge, gespeichert sind nur { $entries }. Es fehlen Einträge.
verify-root-mismatch = Prüfpunkt über { $size } Einträge: Der Wurzel-Hash passt nicht. Das Protokoll wurde verändert.
verify-store-unreadable = Die gespeicherten Einträge sind beschädigt oder lückenhaft.
verify-no-witnesses = Es sind keine unabhängigen Zeugen eingerichtet: Niemand außerhalb der Stadt bestätigt, dass das Protokoll nur wächst.
verify-witness-cosigned = Zeuge { $name } hat den Prüfpunkt über { $size } Einträge gegengezeichnet.
verify-witness-not-yet = Zeuge { $name } hat seit dem Start noch keinen Prüfpunkt gegengezeichnet.
verify-witness-trouble = Zeuge { $name } ist gerade nicht erreichbar oder lehnt ab ({ $problem }).
verify-witness-rollback = Zeuge { $name } kennt schon { $witness_size } Einträge, das Protokoll hat nur { $log_size }. Es wurde zurückgesetzt oder gekürzt.
verify-witness-fork = Zeuge { $name } lehnt ab: Die { $size } Einträge setzen die { $old_size } nicht fort, die er bestätigt hat. Die Vergangenheit des Protokolls wurde verändert.

## Data-protection officers' pages in plain words

action-request-expire = Anfrage abgelaufen
action-policy-load = Regeln geladen
action-key-operation = Schlüssel verwendet
action-audit-query = Protokoll vom Datenschutz abgefragt
dpo-actor-citizen = Bürgerin/Bürger
dpo-citizen-hint = Die pseudonyme Kennung: 32 Zeichen aus 0–9 und a–f. Sie steht in der Spalte „Betrifft“. Leer lassen für alle.
dpo-short-id-hint = Die Kennungen sind gekürzt. Ein Klick auf eine Kennung unter „Betrifft“ zeigt alle Einträge zu dieser Person.
dpo-period-label = Zeitraum
dpo-period-all = Alle Monate
dpo-period-show = Anzeigen
dpo-results-caption-oldest-first = Gefundene Einträge, älteste zuerst
dpo-period-last = { $count ->
    [1] Letzter Monat
   *[other] Letzte { $count } Monate
}
dpo-period-shown = Gezeigt: { $first } bis { $last }.
dpo-period-shown-all = Gezeigt: alle Monate bis { $last }.
month-year = { $month ->
    [1] Januar
    [2] Februar
    [3] März
    [4] April
    [5] Mai
    [6] Juni
    [7] Juli
    [8] August
    [9] September
    [10] Oktober
    [11] November
   *[12] Dezember
} { $year }
