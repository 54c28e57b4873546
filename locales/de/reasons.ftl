### Reasons of audit entries in words (the DPO's results table); the
### exports and the JSON keep the stored codes.

reason-dpo-page = Abfrage auf der Protokollseite
reason-dpo-entries = Abfrage über die Schnittstelle
reason-dpo-stats = Statistik angesehen
reason-dpo-verify = Protokoll geprüft
reason-dpo-export-csv = Export als CSV-Datei
reason-dpo-export-jsonl = Export als JSON-Lines-Datei
reason-feedback-read = Rückmeldungen zur Barrierefreiheit gelesen
reason-data-export = Alle eigenen Daten heruntergeladen
reason-not-a-dpo = Nicht als Datenschutz-Beauftragte eingetragen
reason-wrong-department = Anderes Amt als in der Freigabe
reason-wrong-service = Anderer Dienst als in der Freigabe
reason-grant-not-yet-valid = Freigabe noch nicht gültig
reason-grant-expired = Freigabe abgelaufen
reason-grant-revoked = Freigabe zurückgenommen
reason-grant-exhausted = Freigabe aufgebraucht
reason-login-level-too-low = Sicherheitsniveau der Anmeldung zu niedrig
reason-invalid-id-token = Anmeldebestätigung ungültig
reason-token-exchange-failed = Anmeldung beim Anbieter fehlgeschlagen
reason-keys-opened = Schlüssel geöffnet (Version { $version })
