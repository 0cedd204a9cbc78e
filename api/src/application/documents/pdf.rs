//! Printed documents (BILLING.md 6): A4 pages of text, tables and rules, drawn with
//! krilla in DejaVu Sans Condensed, embedded in the binary and subset into each PDF so
//! that Cyrillic renders anywhere (the font's licence: `api/assets/fonts/LICENSE-DejaVu.txt`).
//!
//! A document is laid out first ([`Sheet`]: marks on pages, pure and testable), then
//! drawn ([`Sheet::into_pdf`]), so every page can say "page n of N". The same sheet
//! always gives the same bytes: no creation time is written.
//!
//! Geometry is in PDF points (1/72 inch) and is the one place the workspace computes
//! with floats: no figure of money is ever a float here, amounts arrive as text
//! ([`amount`]).
#![allow(clippy::float_arithmetic)]

use std::sync::LazyLock;

use krilla::geom::{PathBuilder, Point};
use krilla::page::PageSettings;
use krilla::paint::Stroke;
use krilla::text::{Font, TextDirection};
use krilla::Document;
use rust_decimal::Decimal;

/// DejaVu Sans Condensed (Bitstream Vera licence, `assets/fonts/LICENSE-DejaVu.txt`).
static REGULAR_DATA: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSansCondensed.ttf");
/// DejaVu Sans Condensed Bold.
static BOLD_DATA: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSansCondensed-Bold.ttf");

/// A4 in points.
pub const PAGE_WIDTH: f32 = 595.28;
pub const PAGE_HEIGHT: f32 = 841.89;
const MARGIN_LEFT: f32 = 48.0;
const MARGIN_RIGHT: f32 = 40.0;
const MARGIN_TOP: f32 = 42.0;
/// Room kept at the foot of every page for its footer.
const MARGIN_BOTTOM: f32 = 56.0;
const LINE_SPACING: f32 = 1.25;
const CELL_PADDING: f32 = 3.0;
/// A document longer than this is refused rather than drawn (TIGER_STYLE: limits on
/// everything); a year's statement of a busy participant is a few pages.
pub const MAX_PAGES: usize = 500;

/// Regular or bold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weight {
    Regular,
    Bold,
}

struct Typeface {
    font: Font,
    face: rustybuzz::Face<'static>,
}

impl Typeface {
    fn load(data: &'static [u8]) -> Self {
        Self {
            font: Font::new(data.to_vec().into(), 0).expect("the embedded font is valid"),
            face: rustybuzz::Face::from_slice(data, 0).expect("the embedded font is valid"),
        }
    }

    /// The width of `text` set in `size`, as krilla's shaper sets it.
    fn width(&self, text: &str, size: f32) -> f32 {
        let mut buffer = rustybuzz::UnicodeBuffer::new();
        buffer.push_str(text);
        buffer.guess_segment_properties();
        let shaped = rustybuzz::shape(&self.face, &[], buffer);
        let units: i32 = shaped.glyph_positions().iter().map(|p| p.x_advance).sum();
        units as f32 * size / f32::from(self.face.units_per_em() as u16)
    }
}

struct Typefaces {
    regular: Typeface,
    bold: Typeface,
}

static TYPEFACES: LazyLock<Typefaces> = LazyLock::new(|| Typefaces {
    regular: Typeface::load(REGULAR_DATA),
    bold: Typeface::load(BOLD_DATA),
});

fn typeface(weight: Weight) -> &'static Typeface {
    match weight {
        Weight::Regular => &TYPEFACES.regular,
        Weight::Bold => &TYPEFACES.bold,
    }
}

/// The width of `text` in points.
pub fn text_width(text: &str, size: f32, weight: Weight) -> f32 {
    typeface(weight).width(text, size)
}

/// One thing drawn on a page.
#[derive(Debug, Clone, PartialEq)]
enum Mark {
    /// Text whose baseline starts at (x, y), y from the top of the page.
    Text {
        x: f32,
        y: f32,
        size: f32,
        weight: Weight,
        text: String,
    },
    Rule {
        from: (f32, f32),
        to: (f32, f32),
        width: f32,
    },
}

/// How a column's cells sit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
    Center,
}

/// One column of a table: its heading, its share of the text width, its alignment.
#[derive(Debug, Clone, Copy)]
pub struct Column<'a> {
    pub heading: &'a str,
    pub share: f32,
    pub align: Align,
}

impl<'a> Column<'a> {
    pub fn new(heading: &'a str, share: f32, align: Align) -> Self {
        Self {
            heading,
            share,
            align,
        }
    }
}

/// A row of a table, and whether it is set in bold (a total).
#[derive(Debug, Clone)]
pub struct Row {
    pub cells: Vec<String>,
    pub weight: Weight,
}

impl Row {
    pub fn regular(cells: Vec<String>) -> Self {
        Self {
            cells,
            weight: Weight::Regular,
        }
    }

    pub fn bold(cells: Vec<String>) -> Self {
        Self {
            cells,
            weight: Weight::Bold,
        }
    }
}

/// The columns' widths: a figure column (right-aligned or centred) is at least as wide as
/// its widest cell, so that no amount, quantity or number is ever broken across lines
/// (the longest word of its heading too); the text columns (left-aligned) share what
/// remains by their shares. Only when the figures alone are wider than the page do they
/// shrink by their shares too.
fn column_widths(columns: &[Column<'_>], rows: &[Row], size: f32) -> Vec<f32> {
    let shares: f32 = columns.iter().map(|c| c.share).sum();
    let by_share: Vec<f32> = columns
        .iter()
        .map(|c| TEXT_WIDTH * c.share / shares)
        .collect();
    let needed: Vec<f32> = columns
        .iter()
        .enumerate()
        .map(|(at, column)| {
            if column.align == Align::Left {
                return 0.0;
            }
            let heading = column
                .heading
                .split(' ')
                .map(|word| text_width(word, size, Weight::Bold))
                .fold(0.0_f32, f32::max);
            rows.iter()
                .filter_map(|row| {
                    row.cells
                        .get(at)
                        .map(|cell| text_width(cell, size, row.weight))
                })
                .fold(heading, f32::max)
                + 2.0 * CELL_PADDING
                + 0.5
        })
        .collect();
    let figures: f32 = columns
        .iter()
        .zip(&by_share)
        .zip(&needed)
        .filter(|((c, _), _)| c.align != Align::Left)
        .map(|((_, share), need)| share.max(*need))
        .sum();
    let text_shares: f32 = columns
        .iter()
        .filter(|c| c.align == Align::Left)
        .map(|c| c.share)
        .sum();
    let left_for_text = TEXT_WIDTH - figures;
    if left_for_text < TEXT_WIDTH * 0.2 || text_shares <= 0.0 {
        return by_share;
    }
    columns
        .iter()
        .zip(&by_share)
        .zip(&needed)
        .map(|((c, share), need)| {
            if c.align == Align::Left {
                left_for_text * c.share / text_shares
            } else {
                share.max(*need)
            }
        })
        .collect()
}

/// A table row with its cells wrapped to their columns (measured once) and its height.
struct LaidRow {
    cells: Vec<Vec<String>>,
    weight: Weight,
    height: f32,
}

impl LaidRow {
    fn of(row: &Row, widths: &[f32], size: f32) -> Self {
        let cells: Vec<Vec<String>> = row
            .cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| wrap(cell, width - 2.0 * CELL_PADDING, size, row.weight))
            .collect();
        let lines = cells.iter().map(Vec::len).max().unwrap_or(1).max(1);
        Self {
            cells,
            weight: row.weight,
            height: lines as f32 * size * LINE_SPACING + 2.0 * CELL_PADDING,
        }
    }
}

/// Pages being laid out, top to bottom.
#[derive(Debug)]
pub struct Sheet {
    pages: Vec<Vec<Mark>>,
    /// Where the next thing goes, from the top of the current page.
    y: f32,
}

impl Default for Sheet {
    fn default() -> Self {
        Self::new()
    }
}

/// The width text may take between the margins.
pub const TEXT_WIDTH: f32 = PAGE_WIDTH - MARGIN_LEFT - MARGIN_RIGHT;

impl Sheet {
    pub fn new() -> Self {
        Self {
            pages: vec![Vec::new()],
            y: MARGIN_TOP,
        }
    }

    /// How many pages are laid out so far.
    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    fn page(&mut self) -> &mut Vec<Mark> {
        self.pages.last_mut().expect("a sheet has a page")
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = MARGIN_TOP;
    }

    /// Starts a new page unless `height` more points fit on this one.
    pub fn keep(&mut self, height: f32) {
        if self.y + height > PAGE_HEIGHT - MARGIN_BOTTOM && !self.page_is_empty() {
            self.new_page();
        }
    }

    fn page_is_empty(&self) -> bool {
        self.pages.last().is_none_or(Vec::is_empty)
    }

    /// Vertical space.
    pub fn gap(&mut self, height: f32) {
        self.y += height;
    }

    fn text_at(&mut self, x: f32, baseline: f32, size: f32, weight: Weight, text: &str) {
        if text.is_empty() {
            return;
        }
        self.page().push(Mark::Text {
            x,
            y: baseline,
            size,
            weight,
            text: text.to_owned(),
        });
    }

    fn rule_at(&mut self, from: (f32, f32), to: (f32, f32), width: f32) {
        self.page().push(Mark::Rule { from, to, width });
    }

    /// A paragraph across the text width, wrapped at spaces, aligned as asked.
    pub fn paragraph(&mut self, text: &str, size: f32, weight: Weight, align: Align) {
        let leading = size * LINE_SPACING;
        for line in wrap(text, TEXT_WIDTH, size, weight) {
            self.keep(leading);
            let x = aligned(MARGIN_LEFT, TEXT_WIDTH, &line, size, weight, align);
            self.text_at(x, self.y + size, size, weight, &line);
            self.y += leading;
        }
    }

    /// Label and value pairs, the labels right-aligned against the values, the values
    /// right-aligned at the right margin (the totals under a table).
    pub fn totals(&mut self, pairs: &[(String, String)], size: f32) {
        let leading = size * LINE_SPACING;
        let value_width = pairs
            .iter()
            .map(|(_, value)| text_width(value, size, Weight::Bold))
            .fold(0.0_f32, f32::max);
        let right = MARGIN_LEFT + TEXT_WIDTH;
        for (label, value) in pairs {
            self.keep(leading);
            let baseline = self.y + size;
            let label_right = right - value_width - 12.0;
            let label_x = label_right - text_width(label, size, Weight::Regular);
            self.text_at(label_x, baseline, size, Weight::Regular, label);
            let value_x = right - text_width(value, size, Weight::Bold);
            self.text_at(value_x, baseline, size, Weight::Bold, value);
            self.y += leading;
        }
    }

    /// A ruled table; its heading is repeated on each page it runs onto, and no row is
    /// split across pages.
    pub fn table(&mut self, columns: &[Column<'_>], rows: &[Row], size: f32) {
        let widths = column_widths(columns, rows, size);
        let heading = Row::bold(columns.iter().map(|c| c.heading.to_owned()).collect());
        let heading = LaidRow::of(&heading, &widths, size);
        let first = rows
            .first()
            .map_or(0.0, |row| LaidRow::of(row, &widths, size).height);
        // A heading is never left alone at the foot of a page.
        self.keep(heading.height + first);
        self.table_row(&heading, columns, &widths, size, true);
        for row in rows {
            let row = LaidRow::of(row, &widths, size);
            if self.y + row.height > PAGE_HEIGHT - MARGIN_BOTTOM {
                if self.pages.len() > MAX_PAGES {
                    return; // refused by `into_pdf`; laying out more would be waste
                }
                self.new_page();
                self.table_row(&heading, columns, &widths, size, true);
            }
            self.table_row(&row, columns, &widths, size, false);
        }
    }

    fn table_row(
        &mut self,
        row: &LaidRow,
        columns: &[Column<'_>],
        widths: &[f32],
        size: f32,
        heading: bool,
    ) {
        let top = self.y;
        let bottom = top + row.height;
        let mut x = MARGIN_LEFT;
        let right = MARGIN_LEFT + TEXT_WIDTH;
        self.rule_at((MARGIN_LEFT, top), (right, top), 0.6);
        for ((lines, column), width) in row.cells.iter().zip(columns).zip(widths) {
            let align = if heading { Align::Center } else { column.align };
            let inner = width - 2.0 * CELL_PADDING;
            let mut baseline = top + CELL_PADDING + size;
            for line in lines {
                let line_x = aligned(x + CELL_PADDING, inner, line, size, row.weight, align);
                self.text_at(line_x, baseline, size, row.weight, line);
                baseline += size * LINE_SPACING;
            }
            self.rule_at((x, top), (x, bottom), 0.6);
            x += width;
        }
        self.rule_at((right, top), (right, bottom), 0.6);
        self.rule_at((MARGIN_LEFT, bottom), (right, bottom), 0.6);
        self.y = bottom;
    }

    /// Two signature blocks side by side: for each party its role, its name, a line to
    /// sign on and the place of the seal.
    pub fn signatures(&mut self, parties: [(&str, &str); 2], size: f32) {
        let leading = size * LINE_SPACING;
        let block = (TEXT_WIDTH - 24.0) / 2.0;
        let name_lines = parties
            .iter()
            .map(|(_, name)| wrap(name, block, size, Weight::Regular).len())
            .max()
            .unwrap_or(1);
        self.keep(leading * (name_lines as f32 + 5.0));
        let top = self.y;
        let mut lowest = top;
        for (index, (role, name)) in parties.iter().enumerate() {
            let x = MARGIN_LEFT + index as f32 * (block + 24.0);
            let mut y = top;
            self.text_at(x, y + size, size, Weight::Bold, role);
            y += leading;
            for line in wrap(name, block, size, Weight::Regular) {
                self.text_at(x, y + size, size, Weight::Regular, &line);
                y += leading;
            }
            y += leading * 1.6;
            self.rule_at((x, y), (x + block * 0.55, y), 0.6);
            self.text_at(x + block * 0.58, y, size, Weight::Regular, "/");
            self.rule_at((x + block * 0.62, y), (x + block, y), 0.6);
            y += leading * 0.2;
            self.text_at(
                x,
                y + size * 0.8,
                size * 0.8,
                Weight::Regular,
                "подпись                             расшифровка",
            );
            y += leading;
            self.text_at(x, y + size, size, Weight::Regular, "М.П.");
            y += leading;
            lowest = lowest.max(y);
        }
        self.y = lowest;
    }

    /// The PDF: each page with `footer(page, pages)` at its foot, the document titled
    /// and marked as Russian. `None` when the sheet runs past [`MAX_PAGES`] or krilla
    /// cannot write it.
    pub fn into_pdf(self, title: &str, footer: impl Fn(usize, usize) -> String) -> Option<Vec<u8>> {
        let pages = self.pages.len();
        if pages > MAX_PAGES {
            return None;
        }
        let mut document = Document::new();
        document.set_metadata(
            krilla::metadata::Metadata::new()
                .title(title.to_owned())
                .language("ru".to_owned())
                .creator("edoc-ledger".to_owned())
                .producer(format!("edoc-ledger {}", env!("CARGO_PKG_VERSION"))),
        );
        for (index, marks) in self.pages.into_iter().enumerate() {
            let mut page =
                document.start_page_with(PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT)?);
            let mut surface = page.surface();
            let footer_text = footer(index + 1, pages);
            let footer_size = 7.5;
            let footer_marks = wrap(&footer_text, TEXT_WIDTH, footer_size, Weight::Regular)
                .into_iter()
                .enumerate()
                .map(|(line, text)| Mark::Text {
                    x: MARGIN_LEFT,
                    y: PAGE_HEIGHT - MARGIN_BOTTOM
                        + 20.0
                        + line as f32 * footer_size * LINE_SPACING,
                    size: footer_size,
                    weight: Weight::Regular,
                    text,
                });
            for mark in marks.into_iter().chain(footer_marks) {
                match mark {
                    Mark::Text {
                        x,
                        y,
                        size,
                        weight,
                        text,
                    } => surface.draw_text(
                        Point::from_xy(x, y),
                        typeface(weight).font.clone(),
                        size,
                        &text,
                        false,
                        TextDirection::Auto,
                    ),
                    Mark::Rule { from, to, width } => {
                        let mut path = PathBuilder::new();
                        path.move_to(from.0, from.1);
                        path.line_to(to.0, to.1);
                        let Some(path) = path.finish() else { continue };
                        surface.set_fill(None);
                        surface.set_stroke(Some(Stroke {
                            width,
                            ..Default::default()
                        }));
                        surface.draw_path(&path);
                        surface.set_stroke(None);
                        surface.set_fill(Some(Default::default()));
                    }
                }
            }
            surface.finish();
            page.finish();
        }
        document.finish().ok()
    }
}

fn aligned(left: f32, width: f32, text: &str, size: f32, weight: Weight, align: Align) -> f32 {
    match align {
        Align::Left => left,
        Align::Right => left + width - text_width(text, size, weight),
        Align::Center => left + (width - text_width(text, size, weight)) / 2.0,
    }
}

/// `text` broken into lines no wider than `width`: at spaces, and within a word only
/// when the word alone is wider. Explicit line breaks are kept. A paragraph that fits is
/// measured once; one that does not is filled word by word, each word measured once (the
/// line's width the sum of its words' and spaces').
pub fn wrap(text: &str, width: f32, size: f32, weight: Weight) -> Vec<String> {
    let mut lines = Vec::new();
    let space = text_width(" ", size, weight);
    for paragraph in text.split('\n') {
        if text_width(paragraph, size, weight) <= width {
            lines.push(
                paragraph
                    .split(' ')
                    .filter(|w| !w.is_empty())
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            continue;
        }
        let mut line = String::new();
        let mut line_width = 0.0_f32;
        for word in paragraph.split(' ').filter(|w| !w.is_empty()) {
            let word_width = text_width(word, size, weight);
            if line.is_empty() && word_width <= width {
                line.push_str(word);
                line_width = word_width;
                continue;
            }
            if !line.is_empty() && line_width + space + word_width <= width {
                line.push(' ');
                line.push_str(word);
                line_width += space + word_width;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            line_width = word_width;
            if word_width <= width {
                line.push_str(word);
                continue;
            }
            // A word wider than the line is cut where it must be.
            for ch in word.chars() {
                let mut longer = line.clone();
                longer.push(ch);
                if !line.is_empty() && text_width(&longer, size, weight) > width {
                    lines.push(std::mem::replace(&mut line, ch.to_string()));
                } else {
                    line = longer;
                }
            }
            line_width = text_width(&line, size, weight);
        }
        lines.push(line);
    }
    lines
}

/// An amount as a Kazakh accountant writes it: two decimals after a comma, thousands
/// apart by a no-break space (`1 234 567,89`, `-45,00`). The figure is the JSON
/// answer's exactly; only the separators differ.
pub fn amount(value: Decimal) -> String {
    let fixed = format!("{:.2}", value.round_dp(2));
    let (sign, digits) = fixed
        .strip_prefix('-')
        .map_or(("", fixed.as_str()), |rest| ("-", rest));
    let (whole, cents) = digits.split_once('.').unwrap_or((digits, "00"));
    let mut grouped = String::new();
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && (whole.len() - index) % 3 == 0 {
            grouped.push('\u{a0}');
        }
        grouped.push(digit);
    }
    format!("{sign}{grouped},{cents}")
}

/// A date as `dd.mm.yyyy`.
pub fn russian_date(date: time::Date) -> String {
    format!(
        "{:02}.{:02}.{}",
        date.day(),
        u8::from(date.month()),
        date.year()
    )
}

/// A month and year in Russian, as on an act: "ноябрь 2026 г.".
pub fn russian_month(year: i32, month: time::Month) -> String {
    let name = match month {
        time::Month::January => "январь",
        time::Month::February => "февраль",
        time::Month::March => "март",
        time::Month::April => "апрель",
        time::Month::May => "май",
        time::Month::June => "июнь",
        time::Month::July => "июль",
        time::Month::August => "август",
        time::Month::September => "сентябрь",
        time::Month::October => "октябрь",
        time::Month::November => "ноябрь",
        time::Month::December => "декабрь",
    };
    format!("{name} {year} г.")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(text: &str) -> Decimal {
        text.parse().expect("a decimal")
    }

    #[test]
    fn amounts_are_written_as_accountants_write_them() {
        assert_eq!(amount(dec("1234567.89")), "1\u{a0}234\u{a0}567,89");
        assert_eq!(amount(dec("-45")), "-45,00");
        assert_eq!(amount(dec("0")), "0,00");
        assert_eq!(amount(dec("100.5")), "100,50");
        assert_eq!(amount(dec("-1000")), "-1\u{a0}000,00");
    }

    #[test]
    fn a_figure_column_is_as_wide_as_its_widest_figure() {
        let columns = [
            Column {
                heading: "Наименование",
                share: 8.0,
                align: Align::Left,
            },
            Column {
                heading: "Кол.",
                share: 0.2,
                align: Align::Right,
            },
            Column {
                heading: "Сумма с НДС",
                share: 0.5,
                align: Align::Right,
            },
        ];
        let rows = [
            Row::regular(vec!["Услуги".into(), "123456,125".into(), "1,00".into()]),
            Row::bold(vec![
                "Итого".into(),
                String::new(),
                amount(dec("123456789.12")),
            ]),
        ];
        let widths = column_widths(&columns, &rows, 8.0);
        assert!(
            (widths.iter().sum::<f32>() - TEXT_WIDTH).abs() < 0.01,
            "{widths:?}"
        );
        for (column, at, weight) in [(1, 0, Weight::Regular), (2, 1, Weight::Bold)] {
            let cell = &rows[at].cells[column];
            let lines = wrap(cell, widths[column] - 2.0 * CELL_PADDING, 8.0, weight);
            assert_eq!(lines.len(), 1, "{widths:?}");
            assert_eq!(&lines[0], cell, "{widths:?}");
        }
    }

    #[test]
    fn text_is_wrapped_within_its_width_and_nothing_is_lost() {
        let text = "Услуги доступа к порталу E-DOC по тарифу «Бизнес» за ноябрь 2026 года";
        let lines = wrap(text, 120.0, 9.0, Weight::Regular);
        assert!(lines.len() > 1, "{lines:?}");
        for line in &lines {
            assert!(text_width(line, 9.0, Weight::Regular) <= 120.0, "{line}");
        }
        assert_eq!(lines.join(" "), text);
        let long = "0".repeat(80);
        let cut = wrap(&long, 50.0, 9.0, Weight::Regular);
        assert!(cut.len() > 1);
        assert_eq!(cut.concat(), long);
    }

    #[test]
    fn a_long_table_runs_onto_pages_with_its_heading_and_the_pdf_is_the_same_each_time() {
        let draw = || {
            let mut sheet = Sheet::new();
            sheet.paragraph("Акт сверки", 14.0, Weight::Bold, Align::Center);
            let columns = [
                Column {
                    heading: "Дата",
                    share: 1.0,
                    align: Align::Left,
                },
                Column {
                    heading: "Сумма",
                    share: 1.0,
                    align: Align::Right,
                },
            ];
            let rows: Vec<Row> = (0..200)
                .map(|n| Row::regular(vec![format!("{n}"), amount(Decimal::from(n))]))
                .collect();
            sheet.table(&columns, &rows, 9.0);
            let pages = sheet.page_count();
            (
                pages,
                sheet.into_pdf("Акт", |n, of| format!("Страница {n} из {of}")),
            )
        };
        let (pages, first) = draw();
        assert!(pages >= 3, "{pages} pages");
        let first = first.expect("a PDF");
        assert!(first.starts_with(b"%PDF-"));
        assert_eq!(Some(first), draw().1, "the same sheet gives the same bytes");
    }
}
