//! Staff records over HTTP (clauses 3.1, 3.2, 5.2): the API under `/api/v1/staff` and the
//! console pages `/console/staff`, and the check that keeps a flagged agent out of chat
//! routing. Administrators and supervisors write; QA reviewers read everyone; an agent reads
//! their own file; a client viewer (甲方) sees none of it.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use kefu_app::contracts::StoredContract;
use kefu_core::access::Role;
use kefu_core::contract::ChannelKind;
use kefu_core::staff_policy::{
    self, Assessment, Certificate, DEFAULT_WARN_DAYS, Nda, Standing, Training,
};
use kefu_store::UserId;
use kefu_store::accounts::Account;
use kefu_store::staff::{ScannedFile, StaffFile, StaffProfile};
use serde::{Deserialize, Serialize};

use crate::api::ApiJson;
use crate::auth::{Authorized, CurrentUser, Policy, Staff};
use crate::pages::{Lang, csrf_of, escape, label, page_with_css, sign_out_form, url_encode};
use crate::{AppState, Problem};

/// Administrators and supervisors: who keeps the staff records.
pub struct StaffKeepers;
impl Policy for StaffKeepers {
    const WHO: &'static str = "administrators and supervisors";
    fn admits(role: Role) -> bool {
        matches!(role, Role::Admin | Role::Supervisor)
    }
}

fn sees_everyone(role: Role) -> bool {
    matches!(role, Role::Admin | Role::Supervisor | Role::QaReviewer)
}

fn problem(status: StatusCode, title: &'static str, detail: impl Into<String>) -> Response {
    Problem {
        status,
        title,
        detail: detail.into(),
    }
    .into_response()
}

fn today_in(stored: &StoredContract) -> jiff::civil::Date {
    stored
        .document
        .base()
        .time_zone
        .to_datetime(jiff::Timestamp::now())
        .date()
}

/// The standing of a person on each channel under the contract's terms in force today.
fn standings(
    stored: &StoredContract,
    file: &StaffFile,
    channels: &[ChannelKind],
    warn_days: u16,
) -> Vec<(ChannelKind, Standing)> {
    let today = today_in(stored);
    let Ok(terms) = stored.document.terms_on(today) else {
        // No terms in force today (before the contract starts or after it ends): no policy.
        return channels.iter().map(|c| (*c, Standing::default())).collect();
    };
    staff_policy::check_channels(
        &terms.contract.staff,
        channels,
        &file.records(),
        today,
        warn_days,
    )
}

/// Why `agent` may not be routed work on `channel` now: `Ok(None)` when nothing stands in
/// the way, else the reasons (English, for the chat socket and the log).
///
/// An agent is not tied to one contract: chat routing serves every contract's customers. The
/// staff terms are read from every stored contract that validates; the agent is blocked only
/// when flagged under every one of them (meeting one contract's terms is enough to be routed;
/// the reasons shown are those of all contracts). A stored contract that no longer validates
/// has no terms to apply and is passed over; with no readable contract at all, nothing blocks.
pub(crate) async fn routing_block(
    state: &AppState,
    agent: UserId,
    channel: ChannelKind,
) -> Result<Option<Vec<String>>, String> {
    let numbers = state
        .store
        .contract_numbers()
        .await
        .map_err(|e| e.to_string())?;
    let mut contracts = Vec::new();
    for n in &numbers {
        match state.contracts.get(&state.store, n).await {
            Ok(c) => contracts.push(c),
            Err(e) => {
                tracing::debug!(contract = %n, error = %e, "no staff terms from this contract")
            }
        }
    }
    if contracts.is_empty() {
        return Ok(None);
    }
    let Some(file) = state
        .store
        .staff_file(agent)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Err("no such account".to_owned());
    };
    let mut reasons: Vec<String> = Vec::new();
    for c in &contracts {
        let s = standings(c, &file, &[channel], DEFAULT_WARN_DAYS);
        let flags = s.into_iter().flat_map(|(_, s)| s.flags).collect::<Vec<_>>();
        if flags.is_empty() {
            return Ok(None);
        }
        for f in flags {
            let r = f.reason();
            if !reasons.contains(&r) {
                reasons.push(r);
            }
        }
    }
    Ok(Some(reasons))
}

/// For the chat socket: the error text when `agent` may not be routed chat work. A failure
/// to check blocks too (routing someone the contract forbids is worse than a retry).
pub(crate) async fn chat_block(state: &AppState, agent: UserId) -> Option<String> {
    match routing_block(state, agent, ChannelKind::Chat).await {
        Ok(None) => None,
        Ok(Some(reasons)) => Some(format!(
            "not routed chat work under the contract's staff policy: {}",
            reasons.join("; ")
        )),
        Err(e) => {
            tracing::error!(error = %e, "cannot check the staff policy");
            Some("cannot check the staff policy now; try again".to_owned())
        }
    }
}

// ------------------------------------------------------------------------------ JSON

#[derive(Serialize)]
struct ReasonJson<T: Serialize> {
    #[serde(flatten)]
    item: T,
    reason: String,
    reason_zh: String,
}

#[derive(Serialize)]
struct ChannelStandingJson {
    channel: ChannelKind,
    flags: Vec<ReasonJson<staff_policy::Flag>>,
    warnings: Vec<ReasonJson<staff_policy::Warning>>,
}

fn standing_json(list: Vec<(ChannelKind, Standing)>) -> Vec<ChannelStandingJson> {
    list.into_iter()
        .map(|(channel, s)| ChannelStandingJson {
            channel,
            flags: s
                .flags
                .into_iter()
                .map(|f| ReasonJson {
                    reason: f.reason(),
                    reason_zh: f.reason_zh(),
                    item: f,
                })
                .collect(),
            warnings: s
                .warnings
                .into_iter()
                .map(|w| ReasonJson {
                    reason: w.reason(),
                    reason_zh: w.reason_zh(),
                    item: w,
                })
                .collect(),
        })
        .collect()
}

#[derive(Serialize)]
struct ProfileJson {
    employee_no: Option<String>,
    hired_on: Option<jiff::civil::Date>,
    education: Option<String>,
    notes: Option<String>,
    /// Masked: only the last four characters are shown.
    id_number: Option<String>,
    skills: std::collections::BTreeMap<String, String>,
}

fn mask_id(v: &str) -> String {
    let n = v.chars().count();
    let tail: String = v.chars().skip(n.saturating_sub(4)).collect();
    format!("{}{tail}", "*".repeat(n.saturating_sub(4)))
}

impl From<&StaffProfile> for ProfileJson {
    fn from(p: &StaffProfile) -> Self {
        ProfileJson {
            employee_no: p.employee_no.clone(),
            hired_on: p.hired_on,
            education: p.education.clone(),
            notes: p.notes.clone(),
            id_number: p.id_number.as_deref().map(mask_id),
            skills: p.skills.clone(),
        }
    }
}

#[derive(Serialize)]
struct Identified<T: Serialize> {
    id: String,
    #[serde(flatten)]
    record: T,
}

#[derive(Serialize)]
struct CertificateJson {
    id: String,
    #[serde(flatten)]
    certificate: Certificate,
    file_name: Option<String>,
    file_sha256: Option<String>,
}

#[derive(Serialize)]
struct AssessmentJson {
    id: String,
    #[serde(flatten)]
    assessment: Assessment,
    passed: bool,
}

fn certificates_json(f: &StaffFile) -> Vec<CertificateJson> {
    f.certificates
        .iter()
        .map(|c| CertificateJson {
            id: c.id.clone(),
            certificate: c.certificate.clone(),
            file_name: c.file_name.clone(),
            file_sha256: c.file_sha256.clone(),
        })
        .collect()
}
fn trainings_json(f: &StaffFile) -> Vec<Identified<Training>> {
    f.trainings
        .iter()
        .map(|t| Identified {
            id: t.id.clone(),
            record: t.training.clone(),
        })
        .collect()
}
fn assessments_json(f: &StaffFile) -> Vec<AssessmentJson> {
    f.assessments
        .iter()
        .map(|a| AssessmentJson {
            id: a.id.clone(),
            passed: a.assessment.passed(),
            assessment: a.assessment.clone(),
        })
        .collect()
}
fn ndas_json(f: &StaffFile) -> Vec<Identified<Nda>> {
    f.ndas
        .iter()
        .map(|n| Identified {
            id: n.id.clone(),
            record: n.nda.clone(),
        })
        .collect()
}

// ------------------------------------------------------------------------------ lookups

#[derive(Deserialize, Default)]
pub struct StaffQuery {
    contract: Option<String>,
    /// `phone`, `chat`, `email` or `onsite`; all channels when absent.
    channel: Option<String>,
    /// Days ahead to warn about (default 30).
    warn_days: Option<u16>,
    lang: Option<String>,
}

fn parse_channel(v: Option<&str>) -> Result<Vec<ChannelKind>, String> {
    match v {
        None | Some("") | Some("all") => Ok(ChannelKind::ALL.to_vec()),
        Some(s) => ChannelKind::ALL
            .into_iter()
            .find(|c| c.key() == s)
            .map(|c| vec![c])
            .ok_or_else(|| {
                format!("channel: expected phone, chat, email, onsite or all, found {s:?}")
            }),
    }
}

/// The contract whose staff terms apply: the one named, or the only one stored.
async fn contract(state: &AppState, named: Option<&str>) -> Result<Arc<StoredContract>, Response> {
    let number = kefu_app::contracts::resolve_number(&state.store, named)
        .await
        .map_err(|e| {
            problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Unprocessable Entity",
                e.to_string(),
            )
        })?;
    state
        .contracts
        .get(&state.store, &number)
        .await
        .map_err(|e| {
            if e.is_user_error() {
                problem(StatusCode::NOT_FOUND, "Not Found", e.to_string())
            } else {
                crate::internal(e)
            }
        })
}

/// The file of `username` if the signed-in person may read it; "not found" for an agent
/// asking about someone else (whether they exist is not theirs to know).
async fn readable_file(
    state: &AppState,
    me: &CurrentUser,
    username: &str,
) -> Result<StaffFile, Response> {
    let not_found = || {
        problem(
            StatusCode::NOT_FOUND,
            "Not Found",
            format!("no staff member {username:?}"),
        )
    };
    if !sees_everyone(me.account.role) && me.account.username != username {
        return Err(not_found());
    }
    let account = match state.store.account_named(username).await {
        Ok(Some(a)) if a.role != Role::ClientViewer => a,
        Ok(_) => return Err(not_found()),
        Err(e) => return Err(crate::internal(e)),
    };
    match state.store.staff_file(account.id).await {
        Ok(Some(f)) => Ok(f),
        Ok(None) => Err(not_found()),
        Err(e) => Err(crate::internal(e)),
    }
}

async fn writable_account(state: &AppState, username: &str) -> Result<Account, Response> {
    match state.store.account_named(username).await {
        Ok(Some(a)) if a.role != Role::ClientViewer => Ok(a),
        Ok(_) => Err(problem(
            StatusCode::NOT_FOUND,
            "Not Found",
            format!("no staff member {username:?}"),
        )),
        Err(e) => Err(crate::internal(e)),
    }
}

fn store_error(e: kefu_store::StoreError) -> Response {
    if e.is_user_error() {
        problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Unprocessable Entity",
            e.to_string(),
        )
    } else {
        crate::internal(e)
    }
}

fn added(a: kefu_store::staff::Added) -> Response {
    let status = if a.inserted {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (
        status,
        Json(serde_json::json!({"id": a.id, "inserted": a.inserted})),
    )
        .into_response()
}

// ------------------------------------------------------------------------------ API

/// `GET /api/v1/staff`: everyone (an agent: themselves) with their flags and warnings.
pub async fn list_api(
    auth: Authorized<Staff>,
    State(state): State<AppState>,
    Query(q): Query<StaffQuery>,
) -> Response {
    let channels = match parse_channel(q.channel.as_deref()) {
        Ok(c) => c,
        Err(m) => return problem(StatusCode::BAD_REQUEST, "Bad Request", m),
    };
    let stored = match contract(&state, q.contract.as_deref()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let warn = q.warn_days.unwrap_or(DEFAULT_WARN_DAYS);
    let files = match staff_files(&state, &auth.user).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let staff: Vec<serde_json::Value> = files
        .iter()
        .map(|f| {
            serde_json::json!({
                "username": f.account.username,
                "display_name": f.account.display_name,
                "role": f.account.role.as_str(),
                "channels": standing_json(standings(&stored, f, &channels, warn)),
            })
        })
        .collect();
    Json(serde_json::json!({
        "contract": stored.document.base().number,
        "on": today_in(&stored),
        "warn_days": warn,
        "staff": staff,
    }))
    .into_response()
}

async fn staff_files(state: &AppState, me: &CurrentUser) -> Result<Vec<StaffFile>, Response> {
    let accounts = state.store.accounts().await.map_err(crate::internal)?;
    let mut files = Vec::new();
    for a in accounts {
        if a.role == Role::ClientViewer || a.disabled {
            continue;
        }
        if !sees_everyone(me.account.role) && a.id != me.account.id {
            continue;
        }
        if let Some(f) = state
            .store
            .staff_file(a.id)
            .await
            .map_err(crate::internal)?
        {
            files.push(f);
        }
    }
    Ok(files)
}

/// `GET /api/v1/staff/{username}`: one person's whole file and standing on every channel.
pub async fn file_api(
    auth: Authorized<Staff>,
    State(state): State<AppState>,
    Path(username): Path<String>,
    Query(q): Query<StaffQuery>,
) -> Response {
    let file = match readable_file(&state, &auth.user, &username).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let channels = match parse_channel(q.channel.as_deref()) {
        Ok(c) => c,
        Err(m) => return problem(StatusCode::BAD_REQUEST, "Bad Request", m),
    };
    // The standing needs a contract; without a (single) one the records are still shown.
    let standing = match contract(&state, q.contract.as_deref()).await {
        Ok(c) => Some(standing_json(standings(
            &c,
            &file,
            &channels,
            q.warn_days.unwrap_or(DEFAULT_WARN_DAYS),
        ))),
        Err(_) => None,
    };
    Json(serde_json::json!({
        "username": file.account.username,
        "display_name": file.account.display_name,
        "role": file.account.role.as_str(),
        "profile": file.profile.as_ref().map(ProfileJson::from),
        "certificates": certificates_json(&file),
        "trainings": trainings_json(&file),
        "assessments": assessments_json(&file),
        "ndas": ndas_json(&file),
        "channels": standing,
    }))
    .into_response()
}

/// `GET /api/v1/staff/{username}/{part}` for profile, certificates, trainings, assessments, nda.
macro_rules! part_getter {
    ($name:ident, $f:expr) => {
        pub async fn $name(
            auth: Authorized<Staff>,
            State(state): State<AppState>,
            Path(username): Path<String>,
        ) -> Response {
            match readable_file(&state, &auth.user, &username).await {
                Ok(file) => Json($f(&file)).into_response(),
                Err(r) => r,
            }
        }
    };
}

part_getter!(profile_get, |f: &StaffFile| f
    .profile
    .as_ref()
    .map(ProfileJson::from));
part_getter!(certificates_get, certificates_json);
part_getter!(trainings_get, trainings_json);
part_getter!(assessments_get, assessments_json);
part_getter!(ndas_get, ndas_json);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileBody {
    employee_no: Option<String>,
    hired_on: Option<jiff::civil::Date>,
    education: Option<String>,
    notes: Option<String>,
    id_number: Option<String>,
    #[serde(default)]
    skills: std::collections::BTreeMap<String, String>,
}

/// `POST /api/v1/staff/{username}/profile`: creates or replaces the profile.
pub async fn profile_post(
    _auth: Authorized<StaffKeepers>,
    State(state): State<AppState>,
    Path(username): Path<String>,
    ApiJson(b): ApiJson<ProfileBody>,
) -> Response {
    let a = match writable_account(&state, &username).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let p = StaffProfile {
        employee_no: b.employee_no,
        hired_on: b.hired_on,
        education: b.education,
        notes: b.notes,
        id_number: b.id_number,
        skills: b.skills,
    };
    match state.store.save_staff_profile(a.id, &p).await {
        Ok(()) => Json(ProfileJson::from(&p)).into_response(),
        Err(e) => store_error(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateBody {
    name: String,
    number: String,
    issued_on: Option<jiff::civil::Date>,
    expires_on: Option<jiff::civil::Date>,
    /// The scanned certificate, base64, with its file name.
    file_name: Option<String>,
    file_base64: Option<String>,
}

/// `POST /api/v1/staff/{username}/certificates`: adds a certificate (201; 200 when one with
/// this number is there already).
pub async fn certificates_post(
    _auth: Authorized<StaffKeepers>,
    State(state): State<AppState>,
    Path(username): Path<String>,
    ApiJson(b): ApiJson<CertificateBody>,
) -> Response {
    let a = match writable_account(&state, &username).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let file = match b.file_base64.as_deref() {
        None => None,
        Some(text) => match base64::engine::general_purpose::STANDARD.decode(text) {
            Ok(bytes) => Some(ScannedFile {
                name: b
                    .file_name
                    .clone()
                    .unwrap_or_else(|| "certificate".to_owned()),
                bytes,
            }),
            Err(e) => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "Bad Request",
                    format!("file_base64: not base64: {e}"),
                );
            }
        },
    };
    let c = Certificate {
        name: b.name,
        number: b.number,
        issued_on: b.issued_on,
        expires_on: b.expires_on,
    };
    match state.store.add_certificate(a.id, &c, file.as_ref()).await {
        Ok(r) => added(r),
        Err(e) => store_error(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingBody {
    course: String,
    held_on: jiff::civil::Date,
    /// Whole minutes.
    minutes: u32,
    trainer: Option<String>,
    result: Option<String>,
}

/// `POST /api/v1/staff/{username}/trainings`.
pub async fn trainings_post(
    _auth: Authorized<StaffKeepers>,
    State(state): State<AppState>,
    Path(username): Path<String>,
    ApiJson(b): ApiJson<TrainingBody>,
) -> Response {
    let a = match writable_account(&state, &username).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let t = Training {
        course: b.course,
        held_on: b.held_on,
        minutes: b.minutes,
        trainer: b.trainer,
        result: b.result,
    };
    match state.store.add_training(a.id, &t).await {
        Ok(r) => added(r),
        Err(e) => store_error(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssessmentBody {
    held_on: jiff::civil::Date,
    #[serde(default)]
    title: String,
    score: u8,
    /// Default: the contract's pass mark.
    pass_score: Option<u8>,
}

/// `POST /api/v1/staff/{username}/assessments`.
pub async fn assessments_post(
    _auth: Authorized<StaffKeepers>,
    State(state): State<AppState>,
    Path(username): Path<String>,
    Query(q): Query<StaffQuery>,
    ApiJson(b): ApiJson<AssessmentBody>,
) -> Response {
    let a = match writable_account(&state, &username).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let pass_score = match b.pass_score {
        Some(p) => p,
        None => match contract(&state, q.contract.as_deref()).await {
            Ok(c) => c.document.base().staff.assessment_pass_score,
            Err(_) => {
                return problem(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Unprocessable Entity",
                    "pass_score: required when no single contract gives the pass mark",
                );
            }
        },
    };
    let x = Assessment {
        held_on: b.held_on,
        title: b.title,
        score: b.score,
        pass_score,
    };
    match state.store.add_assessment(a.id, &x).await {
        Ok(r) => added(r),
        Err(e) => store_error(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NdaBody {
    signed_on: jiff::civil::Date,
    document_sha256: Option<String>,
}

/// `POST /api/v1/staff/{username}/nda`.
pub async fn nda_post(
    _auth: Authorized<StaffKeepers>,
    State(state): State<AppState>,
    Path(username): Path<String>,
    ApiJson(b): ApiJson<NdaBody>,
) -> Response {
    let a = match writable_account(&state, &username).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let n = Nda {
        signed_on: b.signed_on,
        document_sha256: b.document_sha256,
    };
    match state.store.add_nda(a.id, &n).await {
        Ok(r) => added(r),
        Err(e) => store_error(e),
    }
}

// ------------------------------------------------------------------------------ pages

const CSS: &str = ".flag{color:#b3261e;font-weight:600}.warn{color:#7a5b00}.clear{color:#116329}ul.r{margin:0;padding-left:1.1rem}";

fn styled(lang: Lang, title: &str, body: &str) -> Response {
    page_with_css(lang, title, body, CSS)
}

fn reasons_html(lang: Lang, list: &[(ChannelKind, Standing)]) -> String {
    let mut flags = Vec::new();
    let mut warnings = Vec::new();
    for (_, s) in list {
        for f in &s.flags {
            let r = if lang == Lang::En {
                f.reason()
            } else {
                f.reason_zh()
            };
            if !flags.contains(&r) {
                flags.push(r);
            }
        }
        for w in &s.warnings {
            let r = if lang == Lang::En {
                w.reason()
            } else {
                w.reason_zh()
            };
            if !warnings.contains(&r) {
                warnings.push(r);
            }
        }
    }
    if flags.is_empty() && warnings.is_empty() {
        return format!(
            "<span class=\"clear\">{}</span>",
            label(lang, "符合要求", "clear")
        );
    }
    let items: String = flags
        .iter()
        .map(|r| format!("<li class=\"flag\">{}</li>", escape(r)))
        .chain(
            warnings
                .iter()
                .map(|r| format!("<li class=\"warn\">{}</li>", escape(r))),
        )
        .collect();
    format!("<ul class=\"r\">{items}</ul>")
}

fn channel_name(lang: Lang, c: ChannelKind) -> &'static str {
    if lang == Lang::En {
        c.key()
    } else {
        c.label_zh()
    }
}

/// `GET /console/staff`: everyone (an agent: themselves) with flags and warnings.
pub async fn list_page(
    auth: Authorized<Staff>,
    State(state): State<AppState>,
    Query(q): Query<StaffQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::pick(q.lang.as_deref(), &headers);
    let title = label(lang, "客服人员档案", "Staff records");
    let channels = match parse_channel(q.channel.as_deref()) {
        Ok(c) => c,
        Err(m) => return (StatusCode::BAD_REQUEST, m).into_response(),
    };
    let stored = match contract(&state, q.contract.as_deref()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let files = match staff_files(&state, &auth.user).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let warn = q.warn_days.unwrap_or(DEFAULT_WARN_DAYS);
    let number = stored.document.base().number.clone();
    let rows: String = files
        .iter()
        .map(|f| {
            let st = standings(&stored, f, &channels, warn);
            let per_channel: String = st
                .iter()
                .map(|(_, s)| {
                    let (cls, mark) = if !s.flags.is_empty() {
                        ("flag", "✗")
                    } else if !s.warnings.is_empty() {
                        ("warn", "!")
                    } else {
                        ("clear", "✓")
                    };
                    format!("<td class=\"{cls}\">{mark}</td>")
                })
                .collect();
            format!(
                "<tr><td><a href=\"/console/staff/{u}?contract={n}\">{name}</a><br><span class=\"note\">{user}</span></td>{per_channel}<td>{reasons}</td></tr>",
                u = url_encode(&f.account.username),
                n = url_encode(&number),
                name = escape(&f.account.display_name),
                user = escape(&f.account.username),
                reasons = reasons_html(lang, &st),
            )
        })
        .collect();
    let heads: String = channels
        .iter()
        .map(|c| format!("<th>{}</th>", channel_name(lang, *c)))
        .collect();
    let body = format!(
        "<header><h1>kefu · {title}</h1>{out}</header>\
         <p><a href=\"/\">←</a> {contract} <strong>{num}</strong> · {on} {today} · {note}</p>\
         <table class=\"list\"><thead><tr><th>{h_person}</th>{heads}<th>{h_reasons}</th></tr></thead><tbody>{rows}</tbody></table>",
        out = sign_out_form(lang, csrf_of(&auth.user)),
        contract = label(lang, "合同", "Contract"),
        num = escape(&number),
        on = label(lang, "日期", "on"),
        today = today_in(&stored),
        note = label(
            lang,
            "✗ 不得分配该渠道工作;! 即将到期",
            "✗ not routed work on the channel; ! falls due soon"
        ),
        h_person = label(lang, "人员", "Person"),
        h_reasons = label(lang, "原因", "Reasons"),
    );
    styled(lang, title, &body)
}

/// `GET /console/staff/{username}`: one person's file.
pub async fn file_page(
    auth: Authorized<Staff>,
    State(state): State<AppState>,
    Path(username): Path<String>,
    Query(q): Query<StaffQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::pick(q.lang.as_deref(), &headers);
    let file = match readable_file(&state, &auth.user, &username).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let standing = match contract(&state, q.contract.as_deref()).await {
        Ok(c) => reasons_html(
            lang,
            &standings(
                &c,
                &file,
                &ChannelKind::ALL,
                q.warn_days.unwrap_or(DEFAULT_WARN_DAYS),
            ),
        ),
        Err(_) => format!(
            "<span class=\"note\">{}</span>",
            label(
                lang,
                "未选定合同,无法判定。",
                "No single contract: no standing."
            )
        ),
    };
    let dash = |v: Option<&str>| escape(v.unwrap_or("—"));
    let profile = match &file.profile {
        None => format!(
            "<p class=\"note\">{}</p>",
            label(lang, "没有档案。", "No profile.")
        ),
        Some(p) => {
            let skills: String = p
                .skills
                .iter()
                .map(|(c, s)| format!("{}: {}<br>", escape(c), escape(s)))
                .collect();
            format!(
                "<table class=\"list\"><tr><th>{}</th><td>{}</td></tr><tr><th>{}</th><td>{}</td></tr>\
                 <tr><th>{}</th><td>{}</td></tr><tr><th>{}</th><td>{}</td></tr><tr><th>{}</th><td>{}</td></tr><tr><th>{}</th><td>{}</td></tr></table>",
                label(lang, "工号", "Employee no."),
                dash(p.employee_no.as_deref()),
                label(lang, "入职日期", "Hired"),
                p.hired_on.map_or("—".to_owned(), |d| d.to_string()),
                label(lang, "学历", "Education"),
                dash(p.education.as_deref()),
                label(lang, "身份证号", "ID number"),
                dash(p.id_number.as_deref().map(mask_id).as_deref()),
                label(lang, "技能", "Skills"),
                if skills.is_empty() {
                    "—".to_owned()
                } else {
                    skills
                },
                label(lang, "备注", "Notes"),
                dash(p.notes.as_deref()),
            )
        }
    };
    let table = |heads: &[&str], rows: Vec<Vec<String>>| -> String {
        if rows.is_empty() {
            return format!("<p class=\"note\">{}</p>", label(lang, "无记录。", "None."));
        }
        let h: String = heads.iter().map(|x| format!("<th>{x}</th>")).collect();
        let r: String = rows
            .iter()
            .map(|cells| {
                format!(
                    "<tr>{}</tr>",
                    cells
                        .iter()
                        .map(|c| format!("<td>{c}</td>"))
                        .collect::<String>()
                )
            })
            .collect();
        format!("<table class=\"list\"><thead><tr>{h}</tr></thead><tbody>{r}</tbody></table>")
    };
    let day = |d: Option<jiff::civil::Date>| d.map_or("—".to_owned(), |d| d.to_string());
    let certs = table(
        &[
            label(lang, "证书", "Certificate"),
            label(lang, "编号", "Number"),
            label(lang, "发证日期", "Issued"),
            label(lang, "有效期至", "Expires"),
            label(lang, "扫描件 SHA-256", "Scan SHA-256"),
        ],
        file.certificates
            .iter()
            .map(|c| {
                vec![
                    escape(&c.certificate.name),
                    escape(&c.certificate.number),
                    day(c.certificate.issued_on),
                    day(c.certificate.expires_on),
                    dash(c.file_sha256.as_deref()),
                ]
            })
            .collect(),
    );
    let trainings = table(
        &[
            label(lang, "日期", "Day"),
            label(lang, "课程", "Course"),
            label(lang, "分钟", "Minutes"),
            label(lang, "讲师", "Trainer"),
            label(lang, "结果", "Result"),
        ],
        file.trainings
            .iter()
            .rev()
            .map(|t| {
                let t = &t.training;
                vec![
                    t.held_on.to_string(),
                    escape(&t.course),
                    t.minutes.to_string(),
                    dash(t.trainer.as_deref()),
                    dash(t.result.as_deref()),
                ]
            })
            .collect(),
    );
    let assessments = table(
        &[
            label(lang, "日期", "Day"),
            label(lang, "考核内容", "Assessment"),
            label(lang, "成绩", "Score"),
            label(lang, "合格线", "Pass mark"),
            label(lang, "结论", "Outcome"),
        ],
        file.assessments
            .iter()
            .rev()
            .map(|a| {
                let a = &a.assessment;
                vec![
                    a.held_on.to_string(),
                    escape(&a.title),
                    a.score.to_string(),
                    a.pass_score.to_string(),
                    if a.passed() {
                        format!(
                            "<span class=\"clear\">{}</span>",
                            label(lang, "合格", "passed")
                        )
                    } else {
                        format!(
                            "<span class=\"flag\">{}</span>",
                            label(lang, "不合格", "failed")
                        )
                    },
                ]
            })
            .collect(),
    );
    let ndas = table(
        &[
            label(lang, "签署日期", "Signed"),
            label(lang, "文件 SHA-256", "Document SHA-256"),
        ],
        file.ndas
            .iter()
            .map(|n| {
                vec![
                    n.nda.signed_on.to_string(),
                    dash(n.nda.document_sha256.as_deref()),
                ]
            })
            .collect(),
    );
    let title = label(lang, "人员档案", "Staff file");
    let body = format!(
        "<header><h1>kefu · {title}</h1>{out}</header>\
         <p><a href=\"/console/staff\">←</a> <strong>{name}</strong> ({user})</p>\
         <h2>{h_standing}</h2>{standing}<h2>{h_profile}</h2>{profile}<h2>{h_certs}</h2>{certs}\
         <h2>{h_trainings}</h2>{trainings}<h2>{h_assessments}</h2>{assessments}<h2>{h_ndas}</h2>{ndas}",
        out = sign_out_form(lang, csrf_of(&auth.user)),
        name = escape(&file.account.display_name),
        user = escape(&file.account.username),
        h_standing = label(lang, "合规状态", "Standing"),
        h_profile = label(lang, "基本情况", "Background"),
        h_certs = label(lang, "资格证书(附件5)", "Certificates (attachment 5)"),
        h_trainings = label(lang, "培训记录(附件6)", "Trainings (attachment 6)"),
        h_assessments = label(lang, "考核", "Assessments"),
        h_ndas = label(lang, "保密协议(附件7)", "NDAs (attachment 7)"),
    );
    styled(lang, title, &body)
}

#[cfg(test)]
mod tests {
    use super::mask_id;

    #[test]
    fn id_numbers_show_only_their_last_four() {
        assert_eq!(mask_id("440106199001011234"), "**************1234");
        assert_eq!(mask_id("12"), "12");
    }
}
