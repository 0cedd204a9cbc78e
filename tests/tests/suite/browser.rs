//! The back office in a real browser (issue 19, INTEGRATION.md 3): Debian's `chromium`
//! headless, driven through WebDriver (`chromedriver`, from `chromium-driver`; `.ci/run`
//! installs both when missing) against the real server on PostgreSQL. A clerk signs in,
//! finds an agreement by BIN, records a payment through the form and sees the balance
//! change, sees a refused payment's message, sees aging and the dunning preview, signs
//! out; an auditor has no command form and its forged POST is refused; a participant
//! cannot open another's page; a bank statement is uploaded through the page.
//!
//! Never skipped: without `chromedriver` the test fails and says how to install it.
//! Screenshots of the pages it visits are kept under `target/tmp/ui-screenshots/` (and,
//! with `EDOC_UI_SCREENSHOTS=DIR`, written there too: the pictures in docs/ui/).

use std::time::Duration;

use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use api::application::tokens::Role;

use crate::helpers::{invoice, spawn_app, Store, TestApp};

const ROMASHKA: &str = "120340001230";
const OTHER: &str = "980511004560";
/// How long a page may take to appear.
const PAGE_WAIT: Duration = Duration::from_secs(15);

/// A `chromedriver` of this test's own, on a free port, killed when dropped.
struct ChromeDriver {
    _process: tokio::process::Child,
    url: String,
}

fn program(candidates: &[&str]) -> Option<String> {
    candidates
        .iter()
        .find(|path| std::path::Path::new(path).exists())
        .map(|path| (*path).to_owned())
}

async fn chromedriver() -> ChromeDriver {
    let binary = program(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"])
        .unwrap_or_else(|| {
            panic!(
                "chromedriver is not installed: `apt-get install chromium chromium-driver` (.ci/run installs them)"
            )
        });
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let process = tokio::process::Command::new(binary)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    let started = std::time::Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "chromedriver did not listen on port {port} within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ChromeDriver {
        _process: process,
        url: format!("http://127.0.0.1:{port}"),
    }
}

/// A headless Chromium at 1280x900.
async fn chromium(driver: &ChromeDriver) -> Client {
    let binary = program(&["/usr/bin/chromium", "/usr/bin/chromium-browser"])
        .unwrap_or_else(|| panic!("chromium is not installed: `apt-get install chromium chromium-driver` (.ci/run installs them)"));
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": binary,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,900", "--lang=ru-RU"]
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// Waits until the browser is at `path` (and, when given, a query containing `query`).
async fn wait_for_path(browser: &Client, path: &str, query: Option<&str>) {
    let started = std::time::Instant::now();
    loop {
        let url = browser.current_url().await.unwrap();
        if url.path() == path && query.is_none_or(|q| url.query().unwrap_or("").contains(q)) {
            return;
        }
        assert!(
            started.elapsed() < PAGE_WAIT,
            "the browser stayed at {url}, not {path}{}",
            query.map(|q| format!("?{q}")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn text_of(browser: &Client, css: &str) -> String {
    let started = std::time::Instant::now();
    loop {
        let element = browser
            .wait()
            .at_most(PAGE_WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} on the page: {e}"));
        match element.text().await {
            Ok(text) => return text.replace('\u{a0}', " "),
            // Replaced between finding and reading it (htmx swapped it): find it again.
            Err(_) if started.elapsed() < PAGE_WAIT => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("{css} could not be read: {e}"),
        }
    }
}

async fn screenshot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.unwrap();
    let mut directories =
        vec![std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots")];
    if let Ok(dir) = std::env::var("EDOC_UI_SCREENSHOTS") {
        directories.push(dir.into());
    }
    for dir in directories {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), &png).unwrap();
    }
}

async fn sign_in(browser: &Client, app: &TestApp, token: &str) {
    browser.goto(&app.url("/ui/agreements")).await.unwrap();
    wait_for_path(browser, "/ui/sign-in", None).await;
    let field = browser
        .find(Locator::Css("input[name=token]"))
        .await
        .unwrap();
    field.send_keys(token).await.unwrap();
    browser
        .find(Locator::Css("main button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn sign_out(browser: &Client) {
    browser
        .find(Locator::Css("form.sign-out button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_path(browser, "/ui/sign-in", None).await;
}

/// Presses `key` wherever the focus is, as a person at the keyboard does.
async fn press(browser: &Client, key: Key) {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    let value = key.chars().next().expect("a key is one character");
    let actions = KeyActions::new("keyboard".to_owned())
        .then(KeyAction::Down { value })
        .then(KeyAction::Up { value });
    browser.perform_actions(actions).await.unwrap();
}

/// The `name` of the focused form field.
async fn focused_name(browser: &Client) -> String {
    let name = browser
        .execute("return document.activeElement.name || '';", vec![])
        .await
        .unwrap();
    name.as_str().unwrap_or_default().to_owned()
}

/// Fills the payment form and submits it.
async fn pay(browser: &Client, reference: &str, amount: &str) {
    for (name, value) in [("reference", reference), ("amount", amount)] {
        let field = browser
            .find(Locator::Css(&format!("#payment input[name={name}]")))
            .await
            .unwrap();
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }
    browser
        .find(Locator::Css("#payment button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_records_a_payment_in_chromium_and_others_are_kept_to_their_rights() {
    let driver = chromedriver().await;
    let app = spawn_app(Store::Postgres).await;
    app.signed_agreement(ROMASHKA).await;
    app.signed_agreement(OTHER).await;
    let path = format!("/v1/agreements/{ROMASHKA}/invoices");
    assert_eq!(
        app.post(&path, &invoice("2026-02-02", "10000.00"))
            .await
            .status(),
        201
    );
    // Another agreement owing at several ages, for the aging chart.
    let today = app.ledger.today();
    for (days, price) in [
        (70, "1500.00"),
        (45, "2500.00"),
        (20, "4000.00"),
        (2, "3000.00"),
    ] {
        let issued = (today - time::Duration::days(days)).to_string();
        let path = format!("/v1/agreements/{OTHER}/invoices");
        assert_eq!(
            app.post(&path, &invoice(&issued, price)).await.status(),
            201
        );
    }
    let browser = chromium(&driver).await;
    let page = format!("/ui/agreements/{ROMASHKA}");

    // A billing clerk signs in and finds the agreement by its BIN.
    let clerk = app.token(Role::Billing, "clerk", None).await;
    sign_in(&browser, &app, &clerk).await;
    wait_for_path(&browser, "/ui/agreements", None).await;
    screenshot(&browser, "agreements").await;

    // The filter (the start of a BIN), from the keyboard, through htmx: the list changes in place (the page
    // is not reloaded: a mark left on it stays) and the address follows.
    browser
        .execute("window.edocMark = 'kept';", vec![])
        .await
        .unwrap();
    let search = browser.find(Locator::Css("input[name=q]")).await.unwrap();
    search
        .send_keys(&format!("{}{}", &ROMASHKA[..4], Key::Enter))
        .await
        .unwrap();
    wait_for_path(&browser, "/ui/agreements", Some("q=")).await;
    let started = std::time::Instant::now();
    while text_of(&browser, "#results").await.contains(OTHER) {
        assert!(started.elapsed() < PAGE_WAIT, "the list was not filtered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(text_of(&browser, "#results").await.contains(ROMASHKA));
    let mark = browser
        .execute("return window.edocMark;", vec![])
        .await
        .unwrap();
    assert_eq!(
        mark,
        json!("kept"),
        "htmx swapped the list, the page stayed"
    );

    let search = browser.find(Locator::Css("input[name=q]")).await.unwrap();
    search.clear().await.unwrap();
    search.send_keys(ROMASHKA).await.unwrap();
    browser
        .find(Locator::Css("form.filters button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_path(&browser, &page, None).await;
    assert_eq!(text_of(&browser, "#total-due").await, "11 600,00");

    // A payment through the form: the balance changes.
    pay(&browser, "PP-UI-1", "5000.00").await;
    wait_for_path(&browser, &page, Some("recorded=PP-UI-1")).await;
    assert!(text_of(&browser, "p.done").await.contains("PP-UI-1"));
    assert_eq!(text_of(&browser, "#total-due").await, "6 600,00");
    screenshot(&browser, "agreement").await;
    let balance = app
        .get_json(&format!("/v1/agreements/{ROMASHKA}/balance"))
        .await;
    assert_eq!(balance["total_due"], "6600.00", "the API agrees");

    // A refused payment, filled and sent from the keyboard alone (Tab from field to
    // field, Enter to send): its message in words; nothing recorded.
    let events = app.event_count().await;
    let reference = browser
        .find(Locator::Css("#payment input[name=reference]"))
        .await
        .unwrap();
    reference.clear().await.unwrap();
    reference
        .send_keys(&format!("PP-UI-2{}", Key::Tab))
        .await
        .unwrap();
    assert_eq!(focused_name(&browser).await, "received_on");
    // A date field takes a Tab for each of its parts (day, month, year) and its picker.
    for _ in 0..5 {
        if focused_name(&browser).await != "received_on" {
            break;
        }
        press(&browser, Key::Tab).await;
    }
    assert_eq!(focused_name(&browser).await, "amount");
    browser
        .active_element()
        .await
        .unwrap()
        .send_keys(&format!("пять тысяч{}", Key::Enter))
        .await
        .unwrap();
    let refusal = text_of(&browser, "#refusal").await;
    assert!(refusal.contains("Платёж не записан"), "{refusal}");
    assert_eq!(app.event_count().await, events, "nothing recorded");
    assert_eq!(text_of(&browser, "#total-due").await, "6 600,00");

    // On a narrow screen the page does not scroll sideways: wide tables scroll in
    // their own box, forms wrap.
    browser.set_window_size(400, 900).await.unwrap();
    browser.goto(&app.url(&page)).await.unwrap();
    text_of(&browser, "#total-due").await;
    let widths = browser
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth,
                     [...document.querySelectorAll('body *')]
                       .filter(e => !e.closest('.table-wrap') && e.getBoundingClientRect().right > window.innerWidth + 1)
                       .slice(0, 10).map(e => e.tagName + '#' + e.id + '.' + e.className)];",
            vec![],
        )
        .await
        .unwrap();
    let (scroll, inner) = (widths[0].as_i64().unwrap(), widths[1].as_i64().unwrap());
    assert!(inner <= 420, "the window is narrow: {widths}");
    assert!(
        scroll <= inner,
        "the page scrolls sideways at {inner}px (width, window, elements past its edge): {widths}"
    );
    screenshot(&browser, "agreement-narrow").await;
    browser.set_window_size(1280, 900).await.unwrap();

    // The aging chart and the dunning preview, as the clerk sees them.
    browser.goto(&app.url("/ui/aging")).await.unwrap();
    text_of(&browser, "svg.chart").await;
    screenshot(&browser, "aging").await;
    browser.goto(&app.url("/ui/dunning")).await.unwrap();
    assert!(text_of(&browser, "#dunning").await.contains(ROMASHKA));
    screenshot(&browser, "dunning").await;
    browser.goto(&app.url("/ui/periods")).await.unwrap();
    assert!(text_of(&browser, "#periods").await.contains("2026-02"));
    screenshot(&browser, "periods").await;
    sign_out(&browser).await;

    // An auditor: no command form; a POST forged in its own page (with its own CSRF
    // secret) is refused, nothing recorded.
    let auditor = app.token(Role::Auditor, "auditor", None).await;
    sign_in(&browser, &app, &auditor).await;
    wait_for_path(&browser, "/ui/agreements", None).await;
    browser.goto(&app.url(&page)).await.unwrap();
    assert_eq!(text_of(&browser, "#total-due").await, "6 600,00");
    assert!(
        browser.find(Locator::Id("payment")).await.is_err(),
        "an auditor has no payment form"
    );
    let status = browser
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
               const csrf = document.querySelector('input[name=csrf]').value;
               fetch(arguments[0], {method: 'POST', body: new URLSearchParams({csrf, reference: 'PP-FORGED', received_on: '2026-02-06', amount: '100.00'})})
                 .then(r => done(r.status), e => done(String(e)));"#,
            vec![json!(format!("{page}/payments"))],
        )
        .await
        .unwrap();
    assert_eq!(status, json!(403));
    assert_eq!(app.event_count().await, events, "nothing recorded");
    sign_out(&browser).await;

    // A participant: its own page, and not another's.
    let own = app
        .token(Role::Participant, "romashka-buh", Some(ROMASHKA))
        .await;
    sign_in(&browser, &app, &own).await;
    wait_for_path(&browser, &page, None).await;
    browser
        .goto(&app.url(&format!("/ui/agreements/{OTHER}")))
        .await
        .unwrap();
    assert!(text_of(&browser, "main").await.contains("не найден"));
    sign_out(&browser).await;

    // The clerk again: a bank statement uploaded through the page, its lines shown.
    sign_in(&browser, &app, &clerk).await;
    wait_for_path(&browser, "/ui/agreements", None).await;
    browser.goto(&app.url("/ui/bank-statements")).await.unwrap();
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("camt053_001_08.xml");
    std::fs::write(&file, CAMT_08).unwrap();
    browser
        .find(Locator::Css("#upload input[type=file]"))
        .await
        .unwrap()
        .send_keys(file.to_str().unwrap())
        .await
        .unwrap();
    browser
        .find(Locator::Css("#upload button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(text_of(&browser, "p.done")
        .await
        .contains("Выписка загружена"));
    assert!(text_of(&browser, "#lines")
        .await
        .contains("не сопоставлена"));
    screenshot(&browser, "bank-statement").await;
    sign_out(&browser).await;

    browser.close().await.unwrap();
    app.finish().await;
}

const CAMT_08: &str =
    include_str!("../../../api/src/application/statements/fixtures/camt053_001_08.xml");
