//! Small, dependency-free SVG charts: a daily line with its target line, bars,
//! paired bars and a day × hour heat map. Sizes are in SVG user units; the
//! charts scale to the page width.

use std::fmt::Write;

use kefu_app::report::HeatMap;

use crate::esc;

const W: f64 = 720.0;
const H: f64 = 200.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 26.0;

#[derive(Clone, Copy)]
pub(crate) enum Axis {
    Percent,
    Seconds,
    Count,
}

fn open(o: &mut String, h: f64) {
    let _ = write!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {h}\" width=\"100%\" font-size=\"10\" font-family=\"sans-serif\">"
    );
}

/// A "nice" upper bound and step for an axis from 0 (or `lo`) to `max`.
fn nice(lo: f64, hi: f64) -> (f64, f64, f64) {
    let span = (hi - lo).max(1e-9);
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let lo = (lo / step).floor() * step;
    let hi = (hi / step).ceil() * step;
    (lo, hi, step)
}

fn x_labels(o: &mut String, labels: &[String], x: impl Fn(usize) -> f64, h: f64) {
    let every = (labels.len() / 16).max(1);
    for (i, lab) in labels.iter().enumerate() {
        if i % every == 0 || i + 1 == labels.len() {
            let _ = write!(
                o,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#4a5866\">{}</text>",
                x(i),
                h - 8.0,
                esc(lab)
            );
        }
    }
}

fn y_grid(o: &mut String, lo: f64, hi: f64, step: f64, y: impl Fn(f64) -> f64, axis: Axis) {
    let mut v = lo;
    let mut guard = 0;
    while v <= hi + step * 0.001 && guard < 50 {
        let label = match axis {
            Axis::Percent => format!("{v:.0}%"),
            Axis::Seconds => format!("{v}s"),
            Axis::Count => format!("{v}"),
        };
        let _ = write!(
            o,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#e3e8ed\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#4a5866\">{label}</text>",
            W - RIGHT,
            y(v),
            y(v),
            LEFT - 4.0,
            y(v) + 3.5
        );
        v += step;
        guard += 1;
    }
}

/// One value per day (None: no calls that day), with an optional target line.
pub(crate) fn line_chart(
    labels: &[String],
    values: &[Option<f64>],
    target: Option<f64>,
    axis: Axis,
) -> String {
    let mut o = String::new();
    open(&mut o, H);
    let present: Vec<f64> = values.iter().flatten().copied().chain(target).collect();
    if present.is_empty() {
        let _ = write!(
            o,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#6b7785\">—</text></svg>",
            W / 2.0,
            H / 2.0
        );
        return o;
    }
    let min = present.iter().copied().fold(f64::INFINITY, f64::min);
    let max = present.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = match axis {
        // Percentages: zoom in on the interesting band, never above 100.
        Axis::Percent => (
            (min - (max - min).max(2.0) * 0.3).max(0.0),
            max.min(100.0).max(min + 0.5),
        ),
        Axis::Seconds | Axis::Count => (0.0, max.max(1.0)),
    };
    let (lo, hi, step) = nice(lo, hi);
    let hi = match axis {
        Axis::Percent => hi.min(100.0),
        Axis::Seconds | Axis::Count => hi,
    };
    let n = values.len().max(1);
    let plot_w = W - LEFT - RIGHT;
    let x = |i: usize| LEFT + plot_w * (i as f64 + 0.5) / n as f64;
    let y = |v: f64| TOP + (H - TOP - BOTTOM) * (1.0 - (v - lo) / (hi - lo).max(1e-9));
    y_grid(&mut o, lo, hi, step, y, axis);
    if let Some(t) = target {
        let _ = write!(
            o,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#b3261e\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#b3261e\">{}</text>",
            W - RIGHT,
            y(t),
            y(t),
            W - RIGHT - 2.0,
            y(t) - 4.0,
            match axis {
                Axis::Percent => format!("{t}%"),
                Axis::Seconds => format!("{t}s"),
                Axis::Count => format!("{t}"),
            }
        );
    }
    // The line breaks on days without calls.
    let mut path = String::new();
    let mut pen_down = false;
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(v) => {
                let _ = write!(
                    path,
                    "{}{:.1},{:.1} ",
                    if pen_down { "L" } else { "M" },
                    x(i),
                    y(*v)
                );
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    let _ = write!(
        o,
        "<path d=\"{path}\" fill=\"none\" stroke=\"#1d4f7a\" stroke-width=\"2\"/>"
    );
    for (i, v) in values.iter().enumerate() {
        if let Some(v) = v {
            let missed = match (target, axis) {
                (Some(t), Axis::Percent) => *v < t,
                (Some(t), Axis::Seconds | Axis::Count) => *v > t,
                (None, _) => false,
            };
            let _ = write!(
                o,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.6\" fill=\"{}\"/>",
                x(i),
                y(*v),
                if missed { "#b3261e" } else { "#1d4f7a" }
            );
        }
    }
    x_labels(&mut o, labels, x, H);
    o.push_str("</svg>");
    o
}

pub(crate) fn bar_chart(labels: &[String], values: &[f64]) -> String {
    let mut o = String::new();
    open(&mut o, H);
    let max = values.iter().copied().fold(0.0, f64::max).max(1.0);
    let (lo, hi, step) = nice(0.0, max);
    let n = values.len().max(1);
    let plot_w = W - LEFT - RIGHT;
    let bw = plot_w / n as f64;
    let x = |i: usize| LEFT + bw * (i as f64 + 0.5);
    let y = |v: f64| TOP + (H - TOP - BOTTOM) * (1.0 - (v - lo) / (hi - lo).max(1e-9));
    y_grid(&mut o, lo, hi, step, y, Axis::Count);
    for (i, val) in values.iter().enumerate() {
        let _ = write!(
            o,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#6c9bc2\"/>",
            x(i) - bw * 0.38,
            y(*val),
            bw * 0.76,
            (y(0.0) - y(*val)).max(0.0)
        );
    }
    x_labels(&mut o, labels, x, H);
    o.push_str("</svg>");
    o
}

pub(crate) fn paired_bars(labels: &[String], a: &[f64], b: &[f64], names: (&str, &str)) -> String {
    let mut o = String::new();
    open(&mut o, H);
    let max = a.iter().chain(b).copied().fold(0.0, f64::max).max(1.0);
    let (lo, hi, step) = nice(0.0, max);
    let n = labels.len().max(1);
    let plot_w = W - LEFT - RIGHT;
    let bw = plot_w / n as f64;
    let x = |i: usize| LEFT + bw * (i as f64 + 0.5);
    let y = |v: f64| TOP + (H - TOP - BOTTOM) * (1.0 - (v - lo) / (hi - lo).max(1e-9));
    y_grid(&mut o, lo, hi, step, y, Axis::Count);
    for i in 0..labels.len() {
        for (k, (vals, color)) in [(a, "#1d4f7a"), (b, "#d98b2b")].iter().enumerate() {
            let val = vals.get(i).copied().unwrap_or(0.0);
            let _ = write!(
                o,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{color}\"><title>{}</title></rect>",
                x(i) - bw * 0.38 + k as f64 * bw * 0.38,
                y(val),
                bw * 0.36,
                (y(0.0) - y(val)).max(0.0),
                val
            );
        }
    }
    x_labels(&mut o, labels, x, H);
    let _ = write!(
        o,
        "<rect x=\"{:.1}\" y=\"{TOP}\" width=\"10\" height=\"10\" fill=\"#1d4f7a\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text><rect x=\"{:.1}\" y=\"{TOP}\" width=\"10\" height=\"10\" fill=\"#d98b2b\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
        W - 190.0,
        W - 176.0,
        TOP + 9.0,
        esc(names.0),
        W - 100.0,
        W - 86.0,
        TOP + 9.0,
        esc(names.1)
    );
    o.push_str("</svg>");
    o
}

/// Colour for a mean wait: pale for short, deep red for long.
fn heat(v: f64, max: f64) -> String {
    let t = (v / max.max(1.0)).clamp(0.0, 1.0);
    let r = 255.0 - t * (255.0 - 179.0);
    let g = 247.0 - t * (247.0 - 38.0);
    let b = 236.0 - t * (236.0 - 30.0);
    format!("rgb({:.0},{:.0},{:.0})", r, g, b)
}

pub(crate) fn heat_map(m: &HeatMap) -> String {
    let rows = m.days.len().max(1);
    let cell_h = 9.0;
    let top = 16.0;
    let left = 44.0;
    let h = top + cell_h * rows as f64 + 30.0;
    let cell_w = (W - left - RIGHT) / 24.0;
    let mut o = String::new();
    open(&mut o, h);
    let max = m
        .mean_wait_seconds
        .iter()
        .flatten()
        .flatten()
        .copied()
        .fold(0.0, f64::max);
    for hour in 0..24 {
        if hour % 2 == 0 {
            let _ = write!(
                o,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#4a5866\">{hour:02}</text>",
                left + cell_w * (hour as f64 + 0.5),
                top - 4.0
            );
        }
    }
    for (r, day) in m.days.iter().enumerate() {
        let y = top + cell_h * r as f64;
        let _ = write!(
            o,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#4a5866\" font-size=\"8\">{}</text>",
            left - 4.0,
            y + cell_h - 1.5,
            esc(day.get(5..).unwrap_or(day))
        );
        for hour in 0..24 {
            let v = m
                .mean_wait_seconds
                .get(r)
                .and_then(|row| row.get(hour))
                .copied()
                .flatten();
            let offered = m
                .offered
                .get(r)
                .and_then(|row| row.get(hour))
                .copied()
                .unwrap_or(0);
            let fill = match v {
                Some(v) => heat(v, max),
                None => "#f4f6f8".to_owned(),
            };
            let _ = write!(
                o,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\" stroke=\"#ffffff\" stroke-width=\"0.5\"><title>{} {hour:02}:00 — {} s, {offered}</title></rect>",
                left + cell_w * hour as f64,
                y,
                cell_w,
                cell_h,
                esc(day),
                v.map_or("—".to_owned(), |v| format!("{v:.1}"))
            );
        }
    }
    // Legend.
    let ly = top + cell_h * rows as f64 + 10.0;
    for i in 0..10 {
        let v = max * i as f64 / 9.0;
        let _ = write!(
            o,
            "<rect x=\"{:.1}\" y=\"{ly:.1}\" width=\"18\" height=\"8\" fill=\"{}\"/>",
            left + 18.0 * i as f64,
            heat(v, max)
        );
    }
    let _ = write!(
        o,
        "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#4a5866\">0 s … {:.0} s</text>",
        left + 186.0,
        ly + 8.0,
        max
    );
    o.push_str("</svg>");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_axis_covers_the_range_with_round_steps() {
        let (lo, hi, step) = nice(91.3, 99.6);
        assert!(lo <= 91.3 && hi >= 99.6);
        assert!([1.0, 2.0, 2.5, 5.0].contains(&step));
    }

    #[test]
    fn a_chart_of_days_without_calls_is_empty_but_valid() {
        let svg = line_chart(
            &["01".into(), "02".into()],
            &[None, None],
            None,
            Axis::Percent,
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }
}
