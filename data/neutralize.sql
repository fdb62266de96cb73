-- a duplicated database must never send to the production KSeF nor hold the company's KSeF secrets
UPDATE res_company
   SET l10n_pl_ksef_environment = 'test',
       l10n_pl_ksef_token = NULL,
       l10n_pl_ksef_access_token = NULL,
       l10n_pl_ksef_access_valid_until = NULL,
       l10n_pl_ksef_refresh_token = NULL,
       l10n_pl_ksef_refresh_valid_until = NULL,
       l10n_pl_ksef_certificate_id = NULL;
-- nor sign KOD II QR codes with the company's KSeF Offline certificate
UPDATE res_company SET l10n_pl_ksef_offline_certificate_id = NULL;
