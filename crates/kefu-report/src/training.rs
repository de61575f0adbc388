//! The training-records document (附件6 培训记录): a month's trainings and assessments (考核),
//! agent by agent, as one self-contained HTML page laid out for A4 (printed to PDF like the
//! quality report).

use std::collections::BTreeMap;
use std::fmt::Write;

use kefu_app::staff::TrainingPeriod;

use crate::{STYLE, esc};

/// Indexes of one person's trainings and assessments in the period's lists.
type PersonRows = (Vec<usize>, Vec<usize>);

fn hours(minutes: u32) -> String {
    let (h, m) = (minutes / 60, minutes % 60);
    if m == 0 {
        format!("{h}")
    } else {
        // Minutes as exact hundredths where they are (15 → .25); otherwise h:mm.
        if (m * 100) % 60 == 0 {
            format!("{h}.{:02}", m * 100 / 60)
                .trim_end_matches('0')
                .to_owned()
        } else {
            format!("{h}:{m:02}")
        }
    }
}

/// The document; `contract` names the contract it is filed under (number and title), `en`
/// chooses English labels (Chinese otherwise).
pub fn training_html(p: &TrainingPeriod, contract: Option<&str>, en: bool) -> String {
    let t = |zh: &'static str, e: &'static str| if en { e } else { zh };
    let mut people: BTreeMap<(&str, &str), PersonRows> = BTreeMap::new();
    for (i, r) in p.trainings.iter().enumerate() {
        people
            .entry((&r.username, &r.display_name))
            .or_default()
            .0
            .push(i);
    }
    for (i, r) in p.assessments.iter().enumerate() {
        people
            .entry((&r.username, &r.display_name))
            .or_default()
            .1
            .push(i);
    }
    let title = t("客服人员培训记录", "Staff training records");
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{title}</title><style>{STYLE}</style></head><body>",
        if en { "en" } else { "zh-CN" }
    );
    let _ = write!(
        h,
        "<h1>{title}</h1><table class=\"meta\"><tr><td>{}</td><td>{}</td></tr><tr><td>{}</td><td>{} — {}</td></tr>",
        t("附件", "Attachment"),
        t("附件6 培训记录", "6 (training records)"),
        t("期间", "Period"),
        p.first_day,
        p.last_day
    );
    if let Some(c) = contract {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td></tr>",
            t("合同", "Contract"),
            esc(c)
        );
    }
    let total_minutes: u32 = p.trainings.iter().map(|r| r.record.training.minutes).sum();
    let _ = write!(
        h,
        "<tr><td>{}</td><td>{} {} · {} {} · {} {}</td></tr></table>",
        t("合计", "Totals"),
        people.len(),
        t("人", "people"),
        p.trainings.len(),
        t("次培训", "trainings"),
        hours(total_minutes),
        t("学时", "hours"),
    );
    if people.is_empty() {
        let _ = write!(
            h,
            "<p class=\"none\">{}</p>",
            t(
                "本期没有培训或考核记录。",
                "No trainings or assessments in this period."
            )
        );
    }
    for ((username, name), (ts, asx)) in &people {
        let _ = write!(
            h,
            "<h2>{} <span class=\"note\">({})</span></h2>",
            esc(name),
            esc(username)
        );
        if !ts.is_empty() {
            let _ = write!(
                h,
                "<h3>{}</h3><table class=\"grid\"><tr><th class=\"l\">{}</th><th class=\"l\">{}</th><th>{}</th><th class=\"l\">{}</th><th class=\"l\">{}</th></tr>",
                t("培训", "Trainings"),
                t("日期", "Day"),
                t("课程", "Course"),
                t("学时", "Hours"),
                t("讲师", "Trainer"),
                t("结果", "Result"),
            );
            for i in ts {
                let r = &p.trainings[*i].record.training;
                let _ = write!(
                    h,
                    "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
                    r.held_on,
                    esc(&r.course),
                    hours(r.minutes),
                    esc(r.trainer.as_deref().unwrap_or("—")),
                    esc(r.result.as_deref().unwrap_or("—")),
                );
            }
            h.push_str("</table>");
        }
        if !asx.is_empty() {
            let _ = write!(
                h,
                "<h3>{}</h3><table class=\"grid\"><tr><th class=\"l\">{}</th><th class=\"l\">{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
                t("考核", "Assessments"),
                t("日期", "Day"),
                t("考核内容", "Assessment"),
                t("成绩", "Score"),
                t("合格线", "Pass mark"),
                t("结论", "Outcome"),
            );
            for i in asx {
                let a = &p.assessments[*i].record.assessment;
                let (cls, outcome) = if a.passed() {
                    ("met", t("合格", "passed"))
                } else {
                    ("missed", t("不合格", "failed"))
                };
                let _ = write!(
                    h,
                    "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td class=\"{cls}\">{outcome}</td></tr>",
                    a.held_on,
                    esc(if a.title.is_empty() { "—" } else { &a.title }),
                    a.score,
                    a.pass_score,
                );
            }
            h.push_str("</table>");
        }
    }
    h.push_str("</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::hours;

    #[test]
    fn hours_are_shown_exactly() {
        assert_eq!(hours(120), "2");
        assert_eq!(hours(90), "1.5");
        assert_eq!(hours(75), "1.25");
        assert_eq!(hours(70), "1:10");
    }
}
