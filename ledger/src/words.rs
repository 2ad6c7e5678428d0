//! Domain values and transactions in words, in English and Chinese: what people read instead
//! of codes (`salt_marsh`) or Rust names (`SaltMarsh`). One wording for every printer: the
//! wallet, the testnet demo and the node's web view.

use crate::tx::{FreezeTarget, ProjectStatusChange, TxKind};
use crate::types::Role;
use crate::{Address, Amount};

/// The language of the words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Simplified Chinese.
    Zh,
}

/// An area in hundredths of a hectare, in hectares: `171.8`, `1000`.
pub fn hectares(centiha: u64) -> String {
    let (whole, frac) = (centiha / 100, centiha % 100);
    if frac == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{}", format!("{frac:02}").trim_end_matches('0'))
    }
}

/// A quantity in tonnes without the unit: `2.5`, `38745.44`.
fn tonnes(a: Amount) -> String {
    a.to_string().trim_end_matches('t').to_string()
}

fn pick(lang: Lang, en: &'static str, zh: &'static str) -> &'static str {
    match lang {
        Lang::En => en,
        Lang::Zh => zh,
    }
}

/// An ecosystem code (`salt_marsh`) in words.
pub fn ecosystem(code: &str, lang: Lang) -> String {
    let (en, zh) = match code {
        "mangrove" => ("Mangrove", "红树林"),
        "salt_marsh" => ("Salt marsh", "盐沼"),
        "seagrass" => ("Seagrass", "海草床"),
        "seaweed_farm" => ("Seaweed farm", "海藻养殖"),
        "shellfish_farm" => ("Shellfish farm", "贝类养殖"),
        "mudflat" => ("Mudflat", "滩涂"),
        "water_column" => ("Water column", "海洋水体"),
        "other" => ("Other", "其他"),
        other => return other.to_string(),
    };
    pick(lang, en, zh).to_string()
}

/// A retirement purpose code in words.
pub fn purpose(code: &str, lang: Lang) -> String {
    let (en, zh) = match code {
        "voluntary" => ("Voluntary offset", "自愿抵消"),
        "event" => ("Event neutrality", "活动碳中和"),
        "compliance" => ("Compliance", "履约"),
        "judicial_restoration" => ("Judicial restoration", "司法生态修复"),
        "other" => ("Other", "其他"),
        other => return other.to_string(),
    };
    pick(lang, en, zh).to_string()
}

/// A lot state code in words.
pub fn lot_state(code: &str, lang: Lang) -> String {
    let (en, zh) = match code {
        "active" => ("Active", "可用"),
        "pledged" => ("Pledged", "已质押"),
        "frozen" => ("Frozen", "已冻结"),
        "retired" => ("Retired", "已注销"),
        "cancelled" => ("Cancelled", "已作废"),
        other => return other.to_string(),
    };
    pick(lang, en, zh).to_string()
}

/// A role code in words.
pub fn role(code: &str, lang: Lang) -> String {
    let (en, zh) = match code {
        "authority" => ("Authority", "主管机构"),
        "verifier" => ("Verifier", "核证机构"),
        "exchange" => ("Exchange", "交易中心"),
        "holder" => ("Holder", "持有人"),
        other => return other.to_string(),
    };
    pick(lang, en, zh).to_string()
}

/// A project or account status code in words.
pub fn status(code: &str, lang: Lang) -> String {
    let (en, zh) = match code {
        "active" => ("Active", "有效"),
        "suspended" => ("Suspended", "已暂停"),
        "closed" => ("Closed", "已关闭"),
        "admitted" => ("Admitted", "已准入"),
        "frozen" => ("Frozen", "已冻结"),
        other => return other.to_string(),
    };
    pick(lang, en, zh).to_string()
}

fn role_of(r: Role, lang: Lang) -> String {
    role(r.as_str(), lang)
}

fn t(a: Amount) -> String {
    format!("{} t", tonnes(a))
}

/// A price per tonne in a currency's minor unit, in words: `58.00 CNY/t`.
pub fn price(minor: u64, currency: &str) -> String {
    format!("{}.{:02} {currency}/t", minor / 100, minor % 100)
}

/// What a transaction does, in one sentence, with account names from `name`.
pub fn describe(kind: &TxKind, name: &dyn Fn(&Address) -> String, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    match kind {
        TxKind::AdmitAccount(a) => {
            if zh {
                format!("准入{}「{}」（{}，地址 {}）", role_of(a.role, lang), a.name, a.jurisdiction, a.address)
            } else {
                format!(
                    "Admit {} as {} {} ({}, address {})",
                    a.name,
                    a.role.article(),
                    a.role,
                    a.jurisdiction,
                    a.address
                )
            }
        }
        TxKind::UpdateAccount(a) => {
            let mut parts = Vec::new();
            if let Some(n) = &a.name {
                parts.push(if zh { format!("名称改为「{n}」") } else { format!("name to {n}") });
            }
            if let Some(j) = &a.jurisdiction {
                parts.push(if zh { format!("管辖地改为 {j}") } else { format!("jurisdiction to {j}") });
            }
            if let Some(r) = a.role {
                parts.push(if zh { format!("角色改为{}", role_of(r, lang)) } else { format!("role to {r}") });
            }
            if zh {
                format!("更新参与方 {}：{}", name(&a.address), parts.join("，"))
            } else {
                format!("Change {}'s {}", name(&a.address), parts.join(", "))
            }
        }
        TxKind::SuspendAccount(a) => {
            if zh {
                format!("暂停参与方 {}，原因：{}", name(&a.address), a.reason)
            } else {
                format!("Suspend {}: {}", name(&a.address), a.reason)
            }
        }
        TxKind::ReinstateAccount(a) => {
            if zh {
                format!("恢复参与方 {}", name(&a.address))
            } else {
                format!("Reinstate {}", name(&a.address))
            }
        }
        TxKind::RegisterProject(p) => {
            if zh {
                format!(
                    "登记项目 {}「{}」：{}，{}，业主 {}",
                    p.id,
                    p.name,
                    ecosystem(p.ecosystem.as_str(), lang),
                    p.location.region,
                    name(&p.owner)
                )
            } else {
                format!(
                    "Register project {} ({}): {}, {}, owned by {}",
                    p.id,
                    p.name,
                    ecosystem(p.ecosystem.as_str(), lang).to_lowercase(),
                    p.location.region,
                    name(&p.owner)
                )
            }
        }
        TxKind::UpdateProject(p) => {
            let mut parts = Vec::new();
            if let Some(n) = &p.name {
                parts.push(if zh { format!("名称改为「{n}」") } else { format!("name to {n}") });
            }
            if let Some(o) = &p.owner {
                parts.push(if zh { format!("业主改为 {}", name(o)) } else { format!("owner to {}", name(o)) });
            }
            if let Some(a) = p.area_centiha {
                let ha = hectares(a);
                parts.push(if zh { format!("面积改为 {ha} 公顷") } else { format!("area to {ha} ha") });
            }
            match &p.status {
                Some(ProjectStatusChange::Activate) => {
                    parts.push(if zh { "恢复签发".into() } else { "reactivate".into() })
                }
                Some(ProjectStatusChange::Suspend { reason }) => parts.push(if zh {
                    format!("暂停签发（{reason}）")
                } else {
                    format!("suspend issuance ({reason})")
                }),
                Some(ProjectStatusChange::Close) => parts.push(if zh { "关闭".into() } else { "close it".into() }),
                None => {}
            }
            if zh {
                format!("更新项目 {}：{}", p.id, parts.join("，"))
            } else {
                format!("Update project {}: {}", p.id, parts.join(", "))
            }
        }
        TxKind::Attest(a) => {
            if zh {
                format!("核证项目 {} 在 {} 的监测报告：{}", a.project, a.period, t(a.quantity))
            } else {
                format!("Attest {} of project {} for {}", t(a.quantity), a.project, a.period)
            }
        }
        TxKind::Issue(i) => {
            let to = i.recipient.map(|r| name(&r));
            if zh {
                format!(
                    "为项目 {} 签发 {}（监测期 {}）{}",
                    i.project,
                    t(i.quantity),
                    i.period,
                    to.map(|n| format!("给 {n}")).unwrap_or_default()
                )
            } else {
                format!(
                    "Issue {} for project {} ({}) to {}",
                    t(i.quantity),
                    i.project,
                    i.period,
                    to.unwrap_or_else(|| "the project owner".into())
                )
            }
        }
        TxKind::Transfer(x) => {
            let trade =
                x.trade.as_ref().map(|tr| (price(tr.price_per_tonne_minor, &tr.currency), tr.reference.clone()));
            match (zh, trade) {
                (true, Some((p, r))) => {
                    format!("转让 {} 碳票 {} 给 {}，成交价 {p}，成交编号 {r}", t(x.quantity), x.ticket, name(&x.to))
                }
                (true, None) => format!("转让 {} 碳票 {} 给 {}", t(x.quantity), x.ticket, name(&x.to)),
                (false, Some((p, r))) => {
                    format!("Transfer {} of {} to {} at {p} (trade {r})", t(x.quantity), x.ticket, name(&x.to))
                }
                (false, None) => format!("Transfer {} of {} to {}", t(x.quantity), x.ticket, name(&x.to)),
            }
        }
        TxKind::Retire(r) => {
            if zh {
                format!(
                    "注销 {} 碳票 {}，受益人 {}，用途：{}（{}）",
                    t(r.quantity),
                    r.ticket,
                    r.beneficiary,
                    purpose(r.purpose.as_str(), lang),
                    r.jurisdiction
                )
            } else {
                format!(
                    "Retire {} of {} on behalf of {} ({}, {})",
                    t(r.quantity),
                    r.ticket,
                    r.beneficiary,
                    purpose(r.purpose.as_str(), lang).to_lowercase(),
                    r.jurisdiction
                )
            }
        }
        TxKind::Pledge(p) => {
            if zh {
                format!("将 {} 碳票 {} 质押给 {}", t(p.quantity), p.ticket, name(&p.pledgee))
            } else {
                format!("Pledge {} of {} to {}", t(p.quantity), p.ticket, name(&p.pledgee))
            }
        }
        TxKind::Release(r) => {
            if zh {
                format!("解除 {} 质押的 {} 碳票 {}", name(&r.holder), t(r.quantity), r.ticket)
            } else {
                format!("Release {} of {} pledged by {}", t(r.quantity), r.ticket, name(&r.holder))
            }
        }
        TxKind::Seize(s) => {
            if zh {
                format!("处置 {} 质押的 {} 碳票 {}", name(&s.holder), t(s.quantity), s.ticket)
            } else {
                format!("Seize {} of {} pledged by {}", t(s.quantity), s.ticket, name(&s.holder))
            }
        }
        TxKind::Freeze(f) => {
            let target = match &f.target {
                FreezeTarget::Account(a) => name(a),
                FreezeTarget::Ticket(id) => id.clone(),
            };
            if zh {
                format!("冻结 {target}，原因：{}", f.reason)
            } else {
                format!("Put a hold on {target}: {}", f.reason)
            }
        }
        TxKind::Unfreeze(f) => {
            let target = match &f.target {
                FreezeTarget::Account(a) => name(a),
                FreezeTarget::Ticket(id) => id.clone(),
            };
            if zh {
                format!("解除对 {target} 的冻结")
            } else {
                format!("Lift the hold on {target}")
            }
        }
        TxKind::Cancel(c) => {
            if zh {
                format!("作废 {} 持有的 {} 碳票 {}，原因：{}", name(&c.holder), t(c.quantity), c.ticket, c.reason)
            } else {
                format!("Cancel {} of {} held by {}: {}", t(c.quantity), c.ticket, name(&c.holder), c.reason)
            }
        }
        TxKind::UpdateValidators(u) => {
            let names: Vec<String> = u.validators.iter().map(|v| format!("{} ({})", v.name, v.power)).collect();
            if zh {
                format!("更换验证节点集合为：{}（{} 份批准）", names.join("、"), u.approvals.len())
            } else {
                format!("Replace the validator set with {} ({} approvals)", names.join(", "), u.approvals.len())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx::{Trade, Transfer};

    #[test]
    fn a_sale_reads_as_words_in_both_languages() {
        let to = Address([7; 20]);
        let kind = TxKind::Transfer(Transfer {
            ticket: "T-1".into(),
            to,
            quantity: Amount::from_kg(2_500),
            trade: Some(Trade { price_per_tonne_minor: 5_800, currency: "CNY".into(), reference: "FT-7".into() }),
        });
        let name = |_: &Address| "Futian buyer".to_string();
        assert_eq!(
            describe(&kind, &name, Lang::En),
            "Transfer 2.5 t of T-1 to Futian buyer at 58.00 CNY/t (trade FT-7)"
        );
        assert_eq!(
            describe(&kind, &name, Lang::Zh),
            "转让 2.5 t 碳票 T-1 给 Futian buyer，成交价 58.00 CNY/t，成交编号 FT-7"
        );
    }

    #[test]
    fn codes_have_words_and_unknown_codes_pass_through() {
        assert_eq!(ecosystem("salt_marsh", Lang::En), "Salt marsh");
        assert_eq!(ecosystem("salt_marsh", Lang::Zh), "盐沼");
        assert_eq!(purpose("judicial_restoration", Lang::En), "Judicial restoration");
        assert_eq!(lot_state("retired", Lang::Zh), "已注销");
        assert_eq!(ecosystem("x", Lang::Zh), "x");
    }
}
