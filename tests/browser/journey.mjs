// A citizen's journey through tresor in a real browser (headless Chromium
// with JavaScript switched OFF, because the citizen pages must work without
// it), with an axe-core audit (WCAG 2.0/2.1/2.2 A and AA) and a keyboard check on
// every page visited. The display settings are part of it: large text with
// high contrast (audited with the AAA contrast rule too) and the dark theme
// of a browser that prefers one.
//
//   JOURNEY_CONSENT_URL=... JOURNEY_STEP_UP_URL=... node tests/browser/journey.mjs http://127.0.0.1:PORT
//
// The two URLs are approve links of access requests a department opened
// before (tests/it/browser.rs does that with its client certificate): one
// for housing benefit (login level substantial), one for the disabled
// parking permit (login level high, for the step-up page).
//
// Needs /usr/bin/chromium (Debian package `chromium`; never downloads a
// browser) and `npm ci --prefix tests/browser`. Screenshots go to a fresh
// temporary directory whose path is printed. Exit code 0 only if every check
// passed; the last line is always `N passed, M failed`.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import axe from 'axe-core';
import { chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
const VIEWPORT = { width: 1280, height: 900 };
// WCAG 1.4.10 Reflow: content must fit 320 CSS pixels without horizontal scrolling.
const NARROW_VIEWPORT = { width: 320, height: 800 };
const PERSONA = 'anna';

// The smallest file a PDF reader opens: catalog, page tree, one empty page.
const SMALL_PDF = Buffer.from(
  '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n'
    + '2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n'
    + '3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n'
    + 'trailer<</Root 1 0 R>>\n%%EOF\n',
);

const base = process.argv[2];
const consentUrl = process.env.JOURNEY_CONSENT_URL;
const stepUpUrl = process.env.JOURNEY_STEP_UP_URL;
// Optional: the staff login of a data-protection officer (the DPO pages at the end).
const staffLoginUrl = process.env.JOURNEY_STAFF_LOGIN_URL;
if (!base || !/^https?:\/\//.test(base) || !consentUrl || !stepUpUrl) {
  console.error('usage: JOURNEY_CONSENT_URL=URL JOURNEY_STEP_UP_URL=URL node tests/browser/journey.mjs http://127.0.0.1:PORT');
  process.exit(2);
}

const screenshotDir = mkdtempSync(join(tmpdir(), 'tresor-journey-'));
console.log(`screenshots: ${screenshotDir}`);

let passed = 0;
let failed = 0;
let screenshotNumber = 0;

/** One check: a failure is recorded and the journey goes on. */
async function check(name, body) {
  const started = performance.now();
  const took = () => `${((performance.now() - started) / 1000).toFixed(1)}s`;
  try {
    await body();
    passed += 1;
    console.log(`ok    ${name} (${took()})`);
    return true;
  } catch (error) {
    failed += 1;
    console.log(`FAIL  ${name} (${took()})\n${indent(error.message ?? String(error))}`);
    return false;
  }
}

/** One step of the journey: later steps depend on it, so a failure ends the journey. */
async function step(name, body) {
  if (!(await check(name, body))) {
    throw new JourneyStopped(name);
  }
}

class JourneyStopped extends Error {}

function indent(text) {
  return text.split('\n').map((line) => `      ${line}`).join('\n');
}

function path(page) {
  const url = new URL(page.url());
  return url.pathname + url.search;
}

async function text(locator) {
  return (await locator.innerText()).replace(/\s+/g, ' ').trim();
}

/**
 * Everything done on each page: a screenshot, the axe audit, reflow at 320 px
 * and the skip link. `page` is left where it was (apart from focus and #main).
 * `options.colorScheme` audits with that `prefers-color-scheme`;
 * `options.aaa` adds axe's AAA contrast rule (7:1, color-contrast-enhanced).
 */
async function visit(label, page, auditContext, options = {}) {
  screenshotNumber += 1;
  const file = join(screenshotDir, `${String(screenshotNumber).padStart(2, '0')}-${label}.png`);
  await page.screenshot({ path: file, fullPage: true });
  await audit(label, page, auditContext, options);
  await checkSkipLink(label, page);
}

/**
 * axe-core needs JavaScript, the citizen's page has none. So the exact HTML the
 * citizen's browser got is served again, at the same URL (relative links and
 * the stylesheet resolve the same), to a JavaScript-enabled page in a separate
 * context, and audited there. Replaying the HTML (instead of loading the URL
 * again) also covers pages that answer a POST, such as a form with errors.
 */
async function audit(label, page, auditContext, { colorScheme = null, aaa = false } = {}) {
  const url = page.url().split('#')[0];
  const html = await page.content();
  const auditPage = await auditContext.newPage();
  try {
    if (colorScheme) {
      await auditPage.emulateMedia({ colorScheme });
    }
    await auditPage.route((requested) => requested.href === url, (route) =>
      route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: html }));
    await auditPage.goto(url, { waitUntil: 'load' });
    await auditPage.addScriptTag({ content: axe.source });
    const result = await auditPage.evaluate(
      ([tags, enhanced]) => window.axe.run(document, {
        runOnly: { type: 'tag', values: tags },
        rules: enhanced ? { 'color-contrast-enhanced': { enabled: true } } : {},
        resultTypes: ['violations'],
      }),
      [AXE_TAGS, aaa],
    );
    const rules = AXE_TAGS.join(', ') + (aaa ? ' + color-contrast-enhanced (AAA)' : '');
    const scheme = colorScheme ? `, prefers-color-scheme: ${colorScheme}` : '';
    await check(`${label}: axe ${rules}${scheme} (${result.passes.length} rules passed)`, () => {
      if (result.violations.length > 0) {
        throw new Error(result.violations.map(describeViolation).join('\n'));
      }
    });
    for (const item of result.incomplete) {
      console.log(`      note: axe could not decide "${item.id}" on ${item.nodes.length} element(s): ${item.help}`);
    }
    await auditPage.setViewportSize(NARROW_VIEWPORT);
    await check(`${label}: no horizontal scrolling at ${NARROW_VIEWPORT.width} px`, async () => {
      const widths = await auditPage.evaluate(() => ({
        scroll: document.documentElement.scrollWidth,
        client: document.documentElement.clientWidth,
        wide: [...document.querySelectorAll('body *')]
          .filter((element) => element.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
          .slice(0, 5)
          .map((element) => `<${element.tagName.toLowerCase()} class="${element.className}">`),
      }));
      assert.ok(widths.scroll <= widths.client,
        `page is ${widths.scroll} px wide in a ${widths.client} px window; too wide: ${widths.wide.join(', ')}`);
    });
  } finally {
    await auditPage.close();
  }
}

function describeViolation(violation) {
  const nodes = violation.nodes.slice(0, 5).map((node) => {
    const summary = (node.failureSummary ?? '').split('\n').map((line) => `    ${line}`).join('\n');
    return `  at ${node.target.join(' ')}\n    ${node.html.slice(0, 200)}\n${summary}`;
  });
  const more = violation.nodes.length > 5 ? `\n  ... and ${violation.nodes.length - 5} more` : '';
  return `${violation.id} (${violation.impact}): ${violation.help}\n  ${violation.helpUrl}\n${nodes.join('\n')}${more}`;
}

/**
 * Keyboard only: the first Tab from the top of the page reaches the skip link,
 * which is then visible and points at #main; following it moves focus into
 * the main content, past header and navigation.
 */
async function checkSkipLink(label, page) {
  await check(`${label}: first Tab reaches the visible skip link to #main, which moves focus into main`, async () => {
    await page.evaluate(() => {
      document.activeElement?.blur();
      window.getSelection()?.removeAllRanges();
    });
    await page.keyboard.press('Tab');
    const first = await page.evaluate(() => {
      const element = document.activeElement;
      const box = element.getBoundingClientRect();
      return {
        tag: element.tagName.toLowerCase(),
        href: element.getAttribute('href'),
        className: element.className,
        text: element.textContent.trim(),
        visible: box.width > 0 && box.height > 0 && box.top >= 0 && box.left >= 0
          && box.bottom <= window.innerHeight && box.right <= window.innerWidth,
      };
    });
    assert.equal(first.tag, 'a', `first Tab focused <${first.tag}> "${first.text}"`);
    assert.equal(first.href, '#main', `first Tab focused <a href="${first.href}"> "${first.text}", not the skip link`);
    assert.ok(first.visible, `the focused skip link "${first.text}" is not visible in the window`);
    if (label === 'start') {
      screenshotNumber += 1;
      await page.screenshot({ path: join(screenshotDir, `${String(screenshotNumber).padStart(2, '0')}-${label}-skip-link-focused.png`) });
    }
    await page.keyboard.press('Enter');
    await page.keyboard.press('Tab');
    const next = await page.evaluate(() => ({
      inMain: Boolean(document.activeElement.closest('main#main')),
      text: document.activeElement.textContent.trim(),
    }));
    assert.ok(next.inMain, `after the skip link, Tab went to "${next.text}", which is not inside <main id="main">`);
  });
}

async function main() {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    // The citizen: German browser, JavaScript off.
    const context = await browser.newContext({ javaScriptEnabled: false, locale: 'de-DE', viewport: VIEWPORT });
    // Only for axe: JavaScript on, no cookies needed (it gets the HTML replayed).
    const auditContext = await browser.newContext({ javaScriptEnabled: true, locale: 'de-DE', viewport: VIEWPORT });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    try {
      await journey(page, auditContext);
    } catch (error) {
      if (!(error instanceof JourneyStopped)) {
        failed += 1;
        console.log(`FAIL  journey crashed\n${indent(error.stack ?? String(error))}`);
      } else {
        console.log(`      journey stopped after "${error.message}" (at ${page.url()})`);
        const file = join(screenshotDir, 'stopped-here.png');
        await page.screenshot({ path: file, fullPage: true }).catch(() => {});
        writeFileSync(join(screenshotDir, 'stopped-here.html'), await page.content().catch(() => ''));
      }
    }
  } finally {
    await browser.close();
  }
}

async function attachPdf(page) {
  await page.getByLabel('Datei', { exact: true }).setInputFiles({
    name: 'einkommen-2026.pdf', mimeType: 'application/pdf', buffer: SMALL_PDF,
  });
}

async function journey(page, audit) {
  await step('start page opens in German without JavaScript', async () => {
    const response = await page.goto(`${base}/`);
    assert.equal(response.status(), 200);
    assert.equal(await page.locator('html').getAttribute('lang'), 'de');
    assert.equal(await text(page.locator('h1')), 'Willkommen bei tresor');
    assert.equal(await page.locator('script').count(), 0, 'the page has <script> elements');
  });
  await visit('start', page, audit);

  await step('log in with the online ID (test provider, persona anna, level high)', async () => {
    const link = page.getByRole('link', { name: /^Mit Online-Ausweis anmelden/ });
    const href = await link.getAttribute('href');
    assert.match(href, /^\/login\?issuer=/, `login link points at ${href}`);
    if (href.includes('login_hint=')) {
      await link.click();
    } else {
      // The test provider logs a persona in without a page when the request
      // names it; the real eID bridge would ask for the ID card here.
      await page.goto(new URL(`${href}&login_hint=${PERSONA}&level=high`, base).href);
    }
    await page.waitForURL((url) => url.pathname === '/evidence');
    assert.equal(await text(page.locator('h1')), 'Meine Nachweise');
    assert.match(await text(page.locator('.login-status')), /Sicherheitsniveau: hoch/);
    assert.equal(await text(page.locator('main .empty-state')), 'Sie haben noch keine Nachweise gespeichert.');
  });
  await visit('my-evidence-empty', page, audit);

  await step('"Nachweis hinzufügen" leads to the choice of evidence types', async () => {
    await page.getByRole('main').getByRole('link', { name: 'Nachweis hinzufügen' }).click();
    await page.waitForURL((url) => url.pathname === '/evidence/new');
    assert.equal(await text(page.locator('h1')), 'Welchen Nachweis möchten Sie hinzufügen?');
    const current = page.getByRole('navigation', { name: 'Hauptmenü' }).locator('[aria-current="page"]');
    assert.equal(await text(current), 'Nachweis hinzufügen', 'main menu marks the current page');
  });
  await visit('choose-type', page, audit);

  await step('choose "Einkommensnachweis" (radio button) and continue', async () => {
    await page.getByRole('radio', { name: 'Einkommensnachweis', exact: true }).check();
    await page.getByRole('button', { name: 'Weiter' }).click();
    await page.waitForURL((url) => url.pathname === '/evidence/new' && url.searchParams.get('type') === 'income_statement');
    assert.equal(await text(page.locator('h1')), 'Nachweis hinzufügen: Einkommensnachweis');
  });
  await visit('upload-form', page, audit);

  await forgivingForms(page, audit);

  await step('a wrong amount comes back with an error summary, values kept', async () => {
    await page.getByLabel('Arbeitgeber').fill('Stadtwerke Musterstadt GmbH');
    await page.getByLabel('Bruttoeinkommen im Monat').fill('3250,00');
    await page.getByLabel('Nettoeinkommen im Monat').fill('zweitausend');
    await fillDate(page, 'Zeitraum von', ['1', '1', '2026']);
    await fillDate(page, 'Zeitraum bis', ['30', '6', '2026']);
    await page.getByLabel('Personen im Haushalt (mit Ihnen)').fill('3');
    await page.getByLabel('Anzahl der Kinder').fill('1');
    await attachPdf(page);
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/evidence'),
      page.getByRole('button', { name: 'Nachweis speichern' }).click(),
    ]);
    await page.waitForLoadState();
    assert.equal(response.status(), 422);
    assert.match(await page.title(), /^Fehler: /, 'the title says there is an error');
    const summary = page.getByRole('alert');
    assert.equal(await text(summary.getByRole('heading')), 'Bitte prüfen Sie Ihre Angaben');
    // The amount, and the chosen file, which a browser cannot fill in again.
    assert.equal(await summary.getByRole('link').count(), 2, 'the amount and the file are listed');
    assert.match(await text(summary.getByRole('link').nth(1)), /^Datei: Bitte wählen Sie die Datei noch einmal aus\./);
    const net = page.getByLabel('Nettoeinkommen im Monat');
    assert.equal(await net.getAttribute('aria-invalid'), 'true');
    assert.equal(await page.getByLabel('Arbeitgeber').inputValue(), 'Stadtwerke Musterstadt GmbH');
    assert.deepEqual(await dateValue(page, 'Zeitraum bis'), ['30', '6', '2026']);
  });
  await visit('upload-form-error', page, audit);

  await check('upload-form-error: the link in the error summary moves focus to the field', async () => {
    await page.getByRole('alert').getByRole('link').first().click();
    const focused = await page.evaluate(() => document.activeElement.id);
    assert.equal(focused, 'field-net_monthly_income');
  });

  let detailPath;
  await step('correct the amount, attach a PDF, save: the detail page shows the values', async () => {
    await page.getByLabel('Nettoeinkommen im Monat').fill('2100,50');
    // A browser never keeps a chosen file across a page load: choose it again.
    await attachPdf(page);
    await page.getByRole('button', { name: 'Nachweis speichern' }).click();
    await page.waitForURL((url) => /^\/evidence\/[^/]+$/.test(url.pathname) && url.pathname !== '/evidence/new');
    detailPath = new URL(page.url()).pathname;
    assert.equal(await text(page.locator('h1')), 'Einkommensnachweis');
    assert.match(await text(page.getByRole('status')), /^Ihr Nachweis ist gespeichert\./);
    const details = await text(page.locator('main dl'));
    for (const expected of ['Arbeitgeber', 'Stadtwerke Musterstadt GmbH', 'Bruttoeinkommen im Monat', '3.250,00 €',
      'Nettoeinkommen im Monat', '2.100,50 €', 'Zeitraum von', '01.01.2026', 'Zeitraum bis', 'Anzahl der Kinder']) {
      assert.ok(details.includes(expected), `"${expected}" missing from the details: ${details}`);
    }
    const download = page.getByRole('link', { name: /^Datei herunterladen: einkommen-2026\.pdf \(PDF, / });
    const file = await page.request.get(new URL(await download.getAttribute('href'), base).href);
    assert.equal(file.status(), 200);
    assert.deepEqual(Buffer.from(await file.body()), SMALL_PDF, 'the downloaded file is the uploaded one');
  });
  await visit('detail-de', page, audit);

  await step('the office\'s link opens the consent page with the very values that would be shared', async () => {
    const response = await page.goto(consentUrl);
    assert.equal(response.status(), 200);
    assert.equal(await text(page.locator('h1')), 'Wohngeldstelle bittet um Ihre Daten');
    const main = await text(page.locator('main'));
    for (const expected of ['Wohngeld (Mietzuschuss)', 'Rechtsgrundlage', 'Aktenzeichen des Amts', 'AZ 4711/2026',
      'Bruttoeinkommen im Monat', '3.250,00 €', 'Nettoeinkommen im Monat', '2.100,50 €', 'einkommen-2026.pdf']) {
      assert.ok(main.includes(expected), `"${expected}" missing from the consent page: ${main}`);
    }
    assert.ok(!main.includes('Stadtwerke Musterstadt GmbH'), 'the employer is not read by this service');
    const income = page.getByRole('group', { name: 'Einkommensnachweis' });
    assert.ok(await income.getByRole('radio', { name: /^Dokument vom / }).isChecked(), 'the document is preselected');
    assert.equal(await income.getByRole('radio', { name: 'Dieses Dokument nicht teilen' }).isChecked(), false);
    assert.ok(await income.getByRole('checkbox', { name: 'Nettoeinkommen im Monat' }).isChecked());
    const rent = page.getByRole('group', { name: 'Mietbescheinigung' });
    assert.ok((await text(rent)).includes('Sie haben noch kein Dokument dieser Art gespeichert.'));
    assert.equal(await rent.getByRole('link', { name: 'Nachweis hinzufügen: Mietbescheinigung' }).getAttribute('href'),
      `/evidence/new?type=rent_certificate&return_to=${encodeURIComponent(new URL(page.url()).pathname)}`);
    // The service's defaults, not its maxima (90 days, 3 uses).
    assert.equal(await page.getByLabel('Wie oft darf das Amt die Daten abrufen?').inputValue(), '1', 'one use preselected');
    assert.equal(await page.getByLabel('Wie lange darf das Amt die Daten abrufen?').inputValue(), '30', '30 days preselected');
    assert.ok(main.includes('Das Wohngeldgesetz erlaubt der Wohngeldstelle'), 'the legal basis in plain words');
    assert.ok(main.includes('Wenn Sie ablehnen') && main.includes('Sie können Ihre Nachweise auch in der Wohngeldstelle abgeben'),
      'what denying means and other ways');
    assert.ok(main.includes('So erreichen Sie das Amt'), 'the office\'s contact');
  });
  await visit('consent', page, audit);

  await check('consent: the page says the file shows more than the ticked details, and offers to leave it out', async () => {
    const main = await text(page.locator('main'));
    assert.ok(main.includes('Wenn Sie „Vornamen“ nicht ankreuzen, stehen die Vornamen trotzdem in der Datei.'), main);
    assert.equal(await page.getByRole('checkbox', { name: 'Datei nicht mitschicken' }).isChecked(), false);
    assert.equal(await page.getByRole('button', { name: 'Freigeben', exact: true }).count(), 0, 'the form itself shares nothing');
  });

  await consentSummary(page, audit);

  await step('"Freigeben" on the summary shares: "Meine Freigaben" confirms it', async () => {
    await page.getByRole('button', { name: 'Freigeben', exact: true }).click();
    await page.waitForURL((url) => url.pathname === '/grants');
    assert.equal(await text(page.locator('h1')), 'Meine Freigaben');
    assert.match(await text(page.getByRole('status')), /^Sie haben die Daten freigegeben\./);
    const grant = page.locator('main li.grant');
    assert.equal(await grant.count(), 1);
    assert.equal(await text(grant.locator('h2')), 'Wohngeldstelle: Wohngeld (Mietzuschuss)');
    const details = await text(grant.locator('dl'));
    assert.ok(details.includes('Nettoeinkommen im Monat') && details.includes('0 von 3') && details.includes('aktiv'), details);
    assert.ok(!details.includes('Personen im Haushalt'), `a detail left out is listed: ${details}`);
    assert.ok(details.includes('Die Dateien haben Sie nicht mitgeschickt.'), `the file left out is not said: ${details}`);
    const current = page.getByRole('navigation', { name: 'Hauptmenü' }).locator('[aria-current="page"]');
    assert.equal(await text(current), 'Meine Freigaben');
  });
  await visit('grants', page, audit);

  await step('"Jetzt zurücknehmen" asks first and says what stays with the office', async () => {
    await page.getByRole('link', { name: 'Jetzt zurücknehmen' }).click();
    await page.waitForURL((url) => /^\/grants\/[^/]+\/revoke$/.test(url.pathname));
    assert.equal(await text(page.locator('h1')), 'Freigabe zurücknehmen?');
    assert.ok((await text(page.locator('main'))).includes('Was das Amt schon abgerufen hat, bleibt beim Amt.'));
  });
  await visit('revoke-confirm', page, audit);

  await step('confirming revokes the approval', async () => {
    await page.getByRole('button', { name: 'Ja, Freigabe zurücknehmen' }).click();
    await page.waitForURL((url) => url.pathname === '/grants' && url.searchParams.get('notice') === 'revoked');
    assert.match(await text(page.getByRole('status')), /^Sie haben die Freigabe zurückgenommen\./);
    assert.ok((await text(page.locator('main li.grant dl'))).includes('zurückgenommen'));
    assert.equal(await page.getByRole('link', { name: 'Jetzt zurücknehmen' }).count(), 0);
  });
  await visit('grants-revoked', page, audit);

  await displaySettings(page, audit);

  await step('back to the evidence', async () => {
    await page.goto(`${base}${detailPath}`);
    assert.equal(await text(page.locator('h1')), 'Einkommensnachweis');
  });

  await step('switch to English: same page, English text, language remembered', async () => {
    await page.getByRole('navigation', { name: 'Sprache' }).getByRole('link', { name: 'English' }).click();
    await page.waitForURL((url) => url.pathname === detailPath && url.searchParams.get('lang') === 'en');
    assert.equal(await page.locator('html').getAttribute('lang'), 'en');
    assert.equal(await text(page.locator('h1')), 'Income statement');
    const details = await text(page.locator('main dl'));
    assert.ok(details.includes('Employer') && details.includes('Net income per month'), details);
    const current = page.getByRole('navigation', { name: 'Language' }).locator('[aria-current="true"]');
    assert.equal(await text(current), 'English');
  });
  await visit('detail-en', page, audit);

  await step('"Delete evidence" asks for confirmation', async () => {
    await page.getByRole('link', { name: 'Delete evidence' }).click();
    await page.waitForURL((url) => url.pathname === `${detailPath}/delete`);
    assert.equal(await page.locator('html').getAttribute('lang'), 'en', 'the language cookie is kept');
    assert.equal(await text(page.locator('h1')), 'Really delete this evidence?');
    assert.match(await text(page.locator('main')), /You cannot undo this\./);
  });
  await visit('delete-confirm', page, audit);

  await step('confirm: back at an empty "My evidence"', async () => {
    await page.getByRole('button', { name: 'Yes, delete for good' }).click();
    await page.waitForURL((url) => url.pathname === '/evidence');
    assert.equal(await text(page.locator('h1')), 'My evidence');
    assert.equal(await text(page.locator('main .empty-state')), 'You have not stored any evidence yet.');
    assert.equal(await page.locator('main table').count(), 0);
  });
  await visit('my-evidence-empty-en', page, audit);

  await step('log out: through the provider back to "You are logged out"', async () => {
    await page.getByRole('navigation', { name: 'Main menu' }).getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL((url) => url.pathname === '/logged-out' || url.pathname.startsWith('/session/end'));
    if (new URL(page.url()).pathname.startsWith('/session/end')) {
      // The provider still has its own session and asks (plain form, no
      // JavaScript) whether to end it too. Its page is not ours to audit.
      await page.getByRole('button', { name: 'Yes, sign me out' }).click();
      await page.waitForURL((url) => url.pathname === '/logged-out');
    }
    assert.equal(new URL(page.url()).origin, new URL(base).origin, 'back at tresor');
    assert.equal(await text(page.locator('h1')), 'You are logged out');
    assert.equal(await page.getByRole('navigation', { name: 'Main menu' }).count(), 0);
  });
  await visit('logged-out', page, audit);

  await step('after logout "My evidence" asks to log in', async () => {
    const response = await page.goto(`${base}/evidence`);
    assert.equal(response.status(), 401);
    assert.equal(await text(page.locator('h1')), 'Please log in');
  });
  await visit('error-401', page, audit);

  await step('health data: a login below level "high" gets the step-up page, not the values', async () => {
    const requestPath = new URL(stepUpUrl).pathname;
    const login = `${base}/login?login_hint=ben&level=substantial&return_to=${encodeURIComponent(requestPath)}`;
    const response = await page.goto(login);
    await page.waitForURL((url) => url.pathname === requestPath);
    assert.equal(response.status(), 403);
    assert.equal(await text(page.locator('h1')), 'A more secure login is needed');
    const main = await text(page.locator('main'));
    assert.ok(main.includes('security level “high (online ID card)”') && main.includes('“substantial”'), main);
    const again = page.getByRole('main').getByRole('link', { name: 'Log in again' });
    const href = new URL(await again.getAttribute('href'), base);
    assert.equal(href.pathname, '/login');
    assert.equal(href.searchParams.get('level'), 'high');
    assert.equal(href.searchParams.get('return_to'), requestPath);
    assert.equal(await page.locator('main form').count(), 0, 'no consent form below the level');
  });
  await visit('step-up', page, audit);

  await infoPages(page, audit);
  await dpoPages(page, audit);
  await myDataAndErasure(page, audit);
}

/**
 * The summary before sending (issue 15 item 4): "Weiter" shows what would be
 * shared and creates nothing; "Ändern" brings the form back with the choices
 * kept; the file is left out there; the summary says so.
 */
async function consentSummary(page, audit) {
  const consentPath = new URL(consentUrl).pathname;
  await step('leave out one detail, choose 30 days and 3 uses, "Weiter": the summary shows exactly that', async () => {
    await page.getByRole('checkbox', { name: 'Personen im Haushalt (mit Ihnen)' }).uncheck();
    await page.getByLabel('Wie lange darf das Amt die Daten abrufen?').selectOption('30');
    await page.getByLabel('Wie oft darf das Amt die Daten abrufen?').selectOption('3');
    // The summary answers the POST at the same address: wait for that answer.
    await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === consentPath),
      page.getByRole('button', { name: 'Weiter', exact: true }).click(),
    ]);
    await page.waitForLoadState();
    assert.equal(await text(page.locator('h1')), 'Bitte prüfen Sie, was Sie freigeben');
    const main = await text(page.locator('main'));
    for (const expected of ['Noch ist nichts freigegeben.', 'Wohngeldstelle', 'So erreichen Sie das Amt', 'Wohngeld (Mietzuschuss)',
      'AZ 4711/2026', 'Nettoeinkommen im Monat', '2.100,50 €', '3.250,00 €', 'einkommen-2026.pdf', '(30 Tage)', '3 Mal']) {
      assert.ok(main.includes(expected), `"${expected}" missing from the summary: ${main}`);
    }
    assert.ok(!main.includes('Personen im Haushalt'), `a detail left out is on the summary: ${main}`);
    assert.equal(await page.getByRole('button', { name: /^Ändern/ }).count(), 4, 'document, file, duration, uses');
  });
  await visit('consent-summary', page, audit);

  await step('"Ändern" at the file brings the form back with the choices kept; leave the file out, "Weiter"', async () => {
    // Its name says what it changes ("Ändern: Datei"; the browser may put a space before the hidden part).
    await page.getByRole('button', { name: /^Ändern\s*: Datei$/ }).click();
    await page.waitForURL((url) => url.pathname === consentPath && url.hash === '#consent-files');
    await page.waitForLoadState();
    assert.equal(await text(page.locator('h1')), 'Wohngeldstelle bittet um Ihre Daten');
    assert.equal(await page.getByRole('checkbox', { name: 'Personen im Haushalt (mit Ihnen)' }).isChecked(), false, 'kept unticked');
    assert.ok(await page.getByRole('checkbox', { name: 'Nettoeinkommen im Monat' }).isChecked(), 'kept ticked');
    assert.equal(await page.getByLabel('Wie lange darf das Amt die Daten abrufen?').inputValue(), '30');
    assert.equal(await page.getByLabel('Wie oft darf das Amt die Daten abrufen?').inputValue(), '3');
    await page.getByRole('checkbox', { name: 'Datei nicht mitschicken' }).check();
    await page.getByRole('button', { name: 'Weiter', exact: true }).click();
    await page.waitForURL((url) => url.pathname === consentPath && url.hash === '');
    await page.waitForLoadState();
    assert.equal(await text(page.locator('h1')), 'Bitte prüfen Sie, was Sie freigeben');
    const main = await text(page.locator('main'));
    assert.ok(main.includes('Keine Datei. Sie schicken die Datei nicht mit.'), main);
    assert.ok(!main.includes('einkommen-2026.pdf'), `the file left out is on the summary: ${main}`);
  });
  await visit('consent-summary-without-file', page, audit);
}

/** The "Darstellung" menu (no JavaScript) and the browser's dark theme. */
async function displaySettings(page, audit) {
  const displayMenu = () => page.getByRole('navigation', { name: 'Darstellung' });
  const htmlClass = () => page.locator('html').getAttribute('class');

  await step('"Große Schrift" and "Hoher Kontrast" switch the page and are remembered', async () => {
    await page.goto(`${base}/evidence`);
    await displayMenu().getByRole('link', { name: 'Große Schrift' }).click();
    await page.waitForURL((url) => url.pathname === '/evidence' && url.searchParams.get('text') === 'large');
    await displayMenu().getByRole('link', { name: 'Hoher Kontrast' }).click();
    await page.waitForURL((url) => url.searchParams.get('contrast') === 'high' && url.searchParams.get('text') === 'large');
    assert.equal(await htmlClass(), 'text-large contrast-high');
    const current = await displayMenu().locator('[aria-current="true"]').allInnerTexts();
    assert.deepEqual(current.map((label) => label.trim()), ['Große Schrift', 'Hoher Kontrast']);
    await page.goto(`${base}/evidence`);
    assert.equal(await htmlClass(), 'text-large contrast-high', 'the cookies keep the mode without the parameters');
    assert.equal(await text(page.locator('h1')), 'Meine Nachweise');
    assert.ok(await page.locator('main table tbody tr').count() >= 1, 'the list shows the stored evidence');
    const sizes = await page.evaluate(() => ({
      root: getComputedStyle(document.documentElement).fontSize,
      text: getComputedStyle(document.body).color,
      background: getComputedStyle(document.body).backgroundColor,
    }));
    assert.deepEqual(sizes, { root: '22px', text: 'rgb(0, 0, 0)', background: 'rgb(255, 255, 255)' });
  });
  await visit('my-evidence-large-high-contrast', page, audit, { aaa: true });

  await step('the start page keeps large text and high contrast', async () => {
    await page.goto(`${base}/`);
    assert.equal(await htmlClass(), 'text-large contrast-high');
  });
  await visit('start-large-high-contrast', page, audit, { aaa: true });

  await check('start-large-high-contrast: no horizontal scrolling at 320 px in the citizen\'s own browser', async () => {
    await page.setViewportSize(NARROW_VIEWPORT);
    try {
      const widths = await page.evaluate(() => ({
        scroll: document.documentElement.scrollWidth,
        client: document.documentElement.clientWidth,
      }));
      assert.ok(widths.scroll <= widths.client, `page is ${widths.scroll} px wide in a ${widths.client} px window`);
      screenshotNumber += 1;
      await page.screenshot({ path: join(screenshotDir, `${String(screenshotNumber).padStart(2, '0')}-start-large-320px.png`), fullPage: true });
    } finally {
      await page.setViewportSize(VIEWPORT);
    }
  });

  await step('"Normale Schrift" and "Normaler Kontrast" switch back', async () => {
    await displayMenu().getByRole('link', { name: 'Normale Schrift' }).click();
    await page.waitForURL((url) => url.searchParams.get('text') === 'normal');
    await displayMenu().getByRole('link', { name: 'Normaler Kontrast' }).click();
    await page.waitForURL((url) => url.searchParams.get('contrast') === 'normal');
    // Chosen here, so it also beats a browser's prefers-contrast: more.
    assert.equal(await htmlClass(), 'contrast-normal');
  });

  await page.emulateMedia({ colorScheme: 'dark' });
  try {
    await step('a browser that prefers dark gets the dark theme', async () => {
      await page.goto(`${base}/`);
      const colours = await page.evaluate(() => ({
        text: getComputedStyle(document.body).color,
        background: getComputedStyle(document.body).backgroundColor,
      }));
      assert.deepEqual(colours, { text: 'rgb(242, 242, 242)', background: 'rgb(22, 22, 22)' });
    });
    await visit('start-dark', page, audit, { colorScheme: 'dark' });
    await step('the evidence list in the dark theme', async () => {
      await page.goto(`${base}/evidence`);
      assert.ok(await page.locator('main table tbody tr').count() >= 1);
    });
    await visit('my-evidence-dark', page, audit, { colorScheme: 'dark' });
  } finally {
    await page.emulateMedia({ colorScheme: 'light' });
  }
}

// --- The pages a public body must offer, reflow, the DPO pages ---------------

/** In the citizen's own browser: the page fits the window (no sideways scrolling). */
async function assertNoHorizontalOverflow(page, what) {
  const widths = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    inner: window.innerWidth,
    wide: [...document.querySelectorAll('body *')]
      .filter((element) => element.getBoundingClientRect().right > window.innerWidth + 1)
      .slice(0, 5)
      .map((element) => `<${element.tagName.toLowerCase()} class="${element.className}">`),
  }));
  assert.ok(widths.scroll <= widths.inner,
    `${what}: page is ${widths.scroll} px wide in a ${widths.inner} px window; too wide: ${widths.wide.join(', ')}`);
}

/** Each path at 320 px in the citizen's own browser (then back to the normal window). */
async function checkNarrow(page, label, paths) {
  await check(`${label}: no horizontal overflow at ${NARROW_VIEWPORT.width} px in the citizen's browser (${paths.join(', ')})`, async () => {
    await page.setViewportSize(NARROW_VIEWPORT);
    try {
      for (const path of paths) {
        await page.goto(`${base}${path}`);
        await assertNoHorizontalOverflow(page, path);
      }
    } finally {
      await page.setViewportSize(VIEWPORT);
    }
  });
}

/** Accessibility statement with its feedback form, easy read, sign language, privacy, imprint, contact. */
async function infoPages(page, audit) {
  const footer = () => page.getByRole('contentinfo').getByRole('navigation', { name: 'Hilfe und Rechtliches' });
  await step('the footer of every page links the pages a public body must offer', async () => {
    await page.goto(`${base}/?lang=de`);
    const links = await footer().getByRole('link').allInnerTexts();
    assert.deepEqual(links.map((link) => link.trim()),
      ['Welches Amt was fragen darf', 'Barrierefreiheit', 'Leichte Sprache', 'Gebärdensprache', 'Datenschutz',
        'Impressum', 'Kontakt']);
  });
  const pages = [
    ['Welches Amt was fragen darf', '/services', 'Welches Amt welche Daten anfragen darf', 'services'],
    ['Barrierefreiheit', '/accessibility', 'Erklärung zur Barrierefreiheit', 'accessibility'],
    ['Leichte Sprache', '/easy-read', 'tresor in Leichter Sprache', 'easy-read'],
    ['Gebärdensprache', '/sign-language', 'Gebärdensprache', 'sign-language'],
    ['Datenschutz', '/privacy', 'Datenschutzerklärung', 'privacy'],
    ['Impressum', '/imprint', 'Impressum', 'imprint'],
    ['Kontakt', '/contact', 'Kontakt', 'contact'],
  ];
  for (const [link, path, heading, label] of pages) {
    await step(`footer link "${link}" opens ${path}`, async () => {
      await footer().getByRole('link', { name: link, exact: true }).click();
      await page.waitForURL((url) => url.pathname === path);
      assert.equal(await text(page.locator('h1')), heading);
      assert.equal(await footer().locator('[aria-current="page"]').innerText(), link, 'the footer marks the page');
    });
    await visit(label, page, audit);
  }
  await step('easy read in English', async () => {
    await page.goto(`${base}/easy-read?lang=en`);
    assert.equal(await text(page.locator('h1')), 'tresor in easy read');
    assert.ok((await page.locator('main p').count()) > 20, 'one idea per line');
  });
  await visit('easy-read-en', page, audit);

  await step('feedback without a message comes back with an error summary, the contact kept', async () => {
    await page.goto(`${base}/accessibility?lang=de`);
    await page.getByLabel('Wie erreichen wir Sie? (freiwillig)').fill('leserin@example.org');
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/accessibility/feedback'),
      page.getByRole('button', { name: 'Nachricht senden' }).click(),
    ]);
    await page.waitForLoadState();
    assert.equal(response.status(), 422);
    assert.match(await page.title(), /^Fehler: /);
    const summary = page.getByRole('alert');
    assert.equal(await text(summary.getByRole('link')), 'Ihre Nachricht: Bitte schreiben Sie Ihre Nachricht.');
    assert.equal(await page.getByLabel('Wie erreichen wir Sie? (freiwillig)').inputValue(), 'leserin@example.org');
    assert.equal(await page.getByLabel('Ihre Nachricht').getAttribute('aria-invalid'), 'true');
  });
  await visit('accessibility-feedback-error', page, audit);

  await step('feedback sent: the statement thanks for it', async () => {
    await page.getByLabel('Ihre Nachricht').fill('Die Tabelle der Zugriffe ist auf dem Handy schwer zu lesen.');
    await page.getByRole('button', { name: 'Nachricht senden' }).click();
    await page.waitForURL((url) => url.pathname === '/accessibility' && url.searchParams.get('sent') === '1');
    assert.match(await text(page.getByRole('status')), /^Danke! Ihre Nachricht ist angekommen\./);
  });
  await visit('accessibility-feedback-sent', page, audit);

  await step('the access log (still logged in)', async () => {
    await page.goto(`${base}/access-log`);
    assert.equal(await page.locator('main table').count() > 0, true, 'the log has entries');
  });
  await visit('access-log', page, audit);
  await checkNarrow(page, 'citizen pages', ['/', '/evidence', '/access-log', '/grants',
    ...pages.map(([, path]) => path), '/accessibility?sent=1']);
}

/** The DPO's pages: query, statistics (chart), feedback; at 1280 and 320 px and in forced colours. */
async function dpoPages(page, audit) {
  if (!staffLoginUrl) {
    console.log('      note: JOURNEY_STAFF_LOGIN_URL not set, the DPO pages are skipped');
    return;
  }
  // A browser of its own: the test provider still has the citizen's session.
  const staffContext = await page.context().browser().newContext({ javaScriptEnabled: false, locale: 'de-DE', viewport: VIEWPORT });
  try {
    await dpoPagesIn(await staffContext.newPage(), audit);
  } finally {
    await staffContext.close();
  }
}

async function dpoPagesIn(page, audit) {
  page.setDefaultTimeout(15_000);
  await step('a data-protection officer logs in and sees the query page', async () => {
    await page.goto(staffLoginUrl);
    await page.waitForURL((url) => url.pathname === '/dpo', { timeout: 5_000 }).catch(async (error) => {
      throw new Error(`${error.message}\nat ${page.url()}: ${(await page.content()).slice(0, 1500)}`);
    });
    assert.equal(await page.locator('html').getAttribute('lang'), 'de');
    assert.ok(await page.locator('main table.dpo-table tbody tr').count() > 0, 'the log has entries');
    const region = page.getByRole('region', { name: /Einträge/ });
    assert.equal(await region.getAttribute('tabindex'), '0', 'the wide table scrolls in a focusable region');
  });
  await visit('dpo-query', page, audit);
  await check('dpo-query: no horizontal overflow at 1280 px', () => assertNoHorizontalOverflow(page, '/dpo'));

  await step('the statistics page shows bars and numbers', async () => {
    await page.goto(`${base}/dpo/stats`);
    assert.equal(await page.locator('.dpo-chart .chart-row').count(), 2);
    assert.ok((await text(page.locator('.dpo-chart'))).includes('Wohngeldstelle'));
  });
  await visit('dpo-stats', page, audit);
  await check('dpo-stats: chart text stays readable at 320 px (at least 12 px) and the bars are visible', async () => {
    await page.setViewportSize(NARROW_VIEWPORT);
    try {
      await assertNoHorizontalOverflow(page, '/dpo/stats');
      const chart = await page.evaluate(() => [...document.querySelectorAll('.chart-row')].map((row) => ({
        label: parseFloat(getComputedStyle(row.querySelector('.chart-label')).fontSize),
        value: parseFloat(getComputedStyle(row.querySelector('.chart-value')).fontSize),
        bar: row.querySelector('.chart-bar').getBoundingClientRect().width,
      })));
      for (const row of chart) {
        assert.ok(row.label >= 12 && row.value >= 12, `chart text is ${row.label}/${row.value} px`);
        assert.ok(row.bar > 0, 'a bar has no width');
      }
    } finally {
      await page.setViewportSize(VIEWPORT);
    }
  });
  await page.emulateMedia({ forcedColors: 'active', colorScheme: 'dark' });
  try {
    await check('dpo-stats in forced colours: bars are outlined in the system colours', async () => {
      await page.goto(`${base}/dpo/stats`);
      const bars = await page.evaluate(() => [...document.querySelectorAll('.chart-bar')].map((bar) => {
        const style = getComputedStyle(bar);
        return { border: parseFloat(style.borderTopWidth), style: style.borderTopStyle, width: bar.getBoundingClientRect().width };
      }));
      assert.ok(bars.length === 2);
      for (const bar of bars) {
        assert.ok(bar.border >= 1 && bar.style === 'solid' && bar.width > 0, JSON.stringify(bar));
      }
      screenshotNumber += 1;
      await page.screenshot({ path: join(screenshotDir, `${String(screenshotNumber).padStart(2, '0')}-dpo-stats-forced-colours.png`), fullPage: true });
    });
  } finally {
    await page.emulateMedia({ forcedColors: 'none', colorScheme: 'light' });
  }

  await step('the DPO reads the feedback sent from the accessibility statement', async () => {
    await page.goto(`${base}/dpo/feedback`);
    assert.equal(await text(page.locator('h1')), 'Rückmeldungen zur Barrierefreiheit');
    assert.ok((await text(page.locator('main'))).includes('Die Tabelle der Zugriffe ist auf dem Handy schwer zu lesen.'));
    assert.ok((await text(page.locator('main'))).includes('leserin@example.org'), 'the contact kept from the first try was sent');
  });
  await visit('dpo-feedback', page, audit);
  await checkNarrow(page, 'DPO pages', ['/dpo', '/dpo/stats', '/dpo/feedback']);
}

// --- Forms that forgive mistakes (issue 15 items 1 and 2) ---------------------

/** The date input (a fieldset) whose legend starts with `legend`. */
function dateGroup(page, legend) {
  return page.getByRole('group', { name: new RegExp(`^${legend}`) });
}

/** Type a date into the three fields (Tag, Monat, Jahr) of a date input. */
async function fillDate(page, legend, [day, month, year]) {
  const group = dateGroup(page, legend);
  await group.getByLabel('Tag', { exact: true }).fill(day);
  await group.getByLabel('Monat', { exact: true }).fill(month);
  await group.getByLabel('Jahr', { exact: true }).fill(year);
}

/** What the three fields of a date input hold. */
async function dateValue(page, legend) {
  const group = dateGroup(page, legend);
  return Promise.all(['Tag', 'Monat', 'Jahr'].map((part) => group.getByLabel(part, { exact: true }).inputValue()));
}

/**
 * The upload form: dates as three fields, no browser bubbles, the session's
 * length said; an impossible date comes back with an error summary, every
 * typed value and the request to choose the file again.
 */
async function forgivingForms(page, audit) {
  await step('a date is three fields (Tag, Monat, Jahr) with the hint "Zum Beispiel 27 3 2007"', async () => {
    const from = dateGroup(page, 'Zeitraum von');
    assert.equal(await from.getByRole('textbox').count(), 3);
    for (const part of ['Tag', 'Monat', 'Jahr']) {
      assert.equal(await from.getByLabel(part, { exact: true }).getAttribute('inputmode'), 'numeric', part);
    }
    assert.ok((await text(from)).includes('Zum Beispiel 27 3 2007'), await text(from));
    assert.equal(await page.locator('input[type="date"]').count(), 0);
    assert.equal(await page.locator('main form[enctype="multipart/form-data"]').getAttribute('novalidate'), '');
    assert.ok((await text(page.locator('main'))).includes('Sie werden nach 30 Minuten ohne Aktivität abgemeldet.'));
  });

  await step('an impossible date (31.02.2026) comes back with an error summary, the typed values and "choose the file again"', async () => {
    await page.getByLabel('Arbeitgeber').fill('Stadtwerke Musterstadt GmbH');
    await page.getByLabel('Bruttoeinkommen im Monat').fill('3.250,00 €');
    await page.getByLabel('Nettoeinkommen im Monat').fill('2100,50');
    await fillDate(page, 'Zeitraum von', ['31', '02', '2026']);
    await fillDate(page, 'Zeitraum bis', ['30', '6', '2026']);
    await page.getByLabel('Personen im Haushalt (mit Ihnen)').fill('3');
    await attachPdf(page);
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/evidence'),
      page.getByRole('button', { name: 'Nachweis speichern' }).click(),
    ]);
    await page.waitForLoadState();
    assert.equal(response.status(), 422);
    const summary = page.getByRole('alert');
    assert.equal(await text(summary.getByRole('heading')), 'Bitte prüfen Sie Ihre Angaben');
    assert.match(await text(summary.getByRole('link').first()), /^Zeitraum von: Dieses Datum gibt es nicht/);
    assert.deepEqual(await dateValue(page, 'Zeitraum von'), ['31', '02', '2026']);
    assert.equal(await page.getByLabel('Arbeitgeber').inputValue(), 'Stadtwerke Musterstadt GmbH');
    assert.equal(await page.getByLabel('Bruttoeinkommen im Monat').inputValue(), '3.250,00 €');
    assert.equal(await text(page.locator('#upload-file-again')),
      'Bitte wählen Sie die Datei noch einmal aus. Der Browser kann eine gewählte Datei nicht behalten, wenn das Formular zurückkommt.');
  });
  await visit('upload-form-date-error', page, audit);

  await check('upload-form-date-error: the summary link moves focus to the day of the date', async () => {
    await page.getByRole('alert').getByRole('link').first().click();
    assert.equal(await page.evaluate(() => document.activeElement.id), 'field-period_from-day');
  });

  await step('sent after the session ended, the form is kept: "Sie wurden abgemeldet" with a way back', async () => {
    await fillDate(page, 'Zeitraum von', ['1', '1', '2026']);
    // The session is gone (as after 30 minutes without activity): the
    // browser no longer has its cookie.
    const context = page.context();
    const kept = (await context.cookies()).filter((cookie) => !['tresor', '__Host-tresor'].includes(cookie.name));
    await context.clearCookies();
    await context.addCookies(kept);
    await attachPdf(page);
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/evidence'),
      page.getByRole('button', { name: 'Nachweis speichern' }).click(),
    ]);
    await page.waitForLoadState();
    assert.equal(response.status(), 401);
    assert.equal(await text(page.locator('h1')), 'Sie wurden abgemeldet');
    assert.ok((await text(page.locator('main'))).includes('Ihre Eingaben bewahren wir 30 Minuten lang verschlüsselt auf.'));
  });
  await visit('session-ended-form-kept', page, audit);

  await step('logging in again leads back to the form with what was typed', async () => {
    const link = page.getByRole('main').getByRole('link', { name: 'Neu anmelden und weitermachen' });
    const href = await link.getAttribute('href');
    assert.match(href, /^\/login\?return_to=/);
    // The test provider logs the persona in without a page (see the first login).
    await page.goto(new URL(`${href}&login_hint=${PERSONA}&level=high`, base).href);
    await page.waitForURL((url) => url.pathname === '/evidence/new' && url.searchParams.get('draft') === '1');
    assert.match(await text(page.getByRole('status')), /^Sie waren zwischendurch abgemeldet\. Ihre Eingaben sind wieder da\./);
    assert.equal(await page.getByLabel('Arbeitgeber').inputValue(), 'Stadtwerke Musterstadt GmbH');
    assert.equal(await page.getByLabel('Bruttoeinkommen im Monat').inputValue(), '3.250,00 €');
    assert.deepEqual(await dateValue(page, 'Zeitraum von'), ['1', '1', '2026']);
    assert.ok(await page.locator('#upload-file-again').isVisible(), 'the file is asked for again');
  });
  await visit('upload-form-restored', page, audit);
}

// --- All my data, then erasing the account (issue 15 items 6 and 9) --------

async function myDataAndErasure(page, audit) {
  // The citizen's browser is still logged in: as ben, since the step-up page.
  await step('"Meine Daten herunterladen" explains the archive', async () => {
    await page.goto(`${base}/?lang=de`);
    await page.goto(`${base}/account/data`);
    assert.equal(await text(page.locator('h1')), 'Meine Daten herunterladen');
    assert.ok((await text(page.locator('main'))).includes('Auch dieses Herunterladen steht im Protokoll.'));
  });
  await visit('my-data', page, audit);

  await step('the button gives one ZIP archive, without JavaScript', async () => {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Meine Daten herunterladen (ZIP)' }).click(),
    ]);
    assert.match(download.suggestedFilename(), /\.zip$/);
    const bytes = readFileSync(await download.path());
    assert.equal(bytes.subarray(0, 2).toString('latin1'), 'PK', 'a ZIP archive');
    for (const name of ['data.json', 'access-log.json', 'summary.html']) {
      assert.ok(bytes.includes(Buffer.from(name)), `the archive holds ${name}`);
    }
  });

  await page.emulateMedia({ forcedColors: 'active', colorScheme: 'dark' });
  try {
    await check('citizen pages in forced colours: buttons keep a visible border, text stays readable', async () => {
      for (const path of ['/account/data', '/evidence', '/access-log']) {
        await page.goto(`${base}${path}`);
        const looks = await page.evaluate(() => {
          const button = document.querySelector('main button, main .button');
          const style = button ? getComputedStyle(button) : null;
          const body = getComputedStyle(document.body);
          return {
            border: style ? parseFloat(style.borderTopWidth) : null,
            borderStyle: style ? style.borderTopStyle : null,
            text: body.color,
            background: body.backgroundColor,
          };
        });
        if (looks.border !== null) {
          assert.ok(looks.border >= 2 && looks.borderStyle === 'solid', `${path}: ${JSON.stringify(looks)}`);
        }
        assert.notEqual(looks.text, looks.background, `${path}: text and background the same colour`);
      }
      screenshotNumber += 1;
      await page.screenshot({ path: join(screenshotDir, `${String(screenshotNumber).padStart(2, '0')}-access-log-forced-colours.png`), fullPage: true });
    });
  } finally {
    await page.emulateMedia({ forcedColors: 'none', colorScheme: 'light' });
  }

  await step('"Konto löschen" asks first and says what happens', async () => {
    await page.goto(`${base}/account/erase`);
    assert.equal(await text(page.locator('h1')), 'Konto und alle Nachweise löschen');
    assert.ok((await text(page.locator('main'))).includes('Auch nicht aus Sicherungs-Kopien.'));
  });
  await visit('erase-confirm', page, audit);

  await step('erasing the account ends on a confirmation that says so', async () => {
    const understood = page.getByRole('checkbox', { name: 'Ich habe verstanden: Alle meine Nachweise sind dann für immer weg.' });
    if (await understood.count() > 0) {
      await understood.check();
    }
    await page.getByRole('button', { name: 'Konto für immer löschen' }).click();
    await page.waitForURL((url) => url.pathname === '/logged-out');
    assert.equal(new URL(page.url()).searchParams.get('notice'), 'erased');
    assert.ok((await text(page.locator('main'))).includes('Ihr Konto ist gelöscht'));
    assert.equal(await page.getByRole('navigation', { name: 'Hauptmenü' }).count(), 0, 'no longer logged in');
  });
  await visit('erased', page, audit);
}

await main().catch((error) => {
  failed += 1;
  console.log(`FAIL  browser\n${indent(error.stack ?? String(error))}`);
});
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
