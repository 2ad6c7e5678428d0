//! The web view's two languages: English and Chinese, chosen by `?lang=`, then a `lang`
//! cookie (set by the switch on every page), then `Accept-Language`.

use axum::http::HeaderMap;

/// A language of the pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Simplified Chinese.
    Zh,
}

impl Lang {
    /// The code in `?lang=` and in `<html lang>`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }

    /// The other language (for the switch).
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Zh,
            Lang::Zh => Lang::En,
        }
    }

    /// The language's own name (the switch's label).
    pub fn own_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Zh => "中文",
        }
    }

    /// Parses `en` / `zh` (and `zh-CN`, `zh-Hans`...).
    pub fn parse(s: &str) -> Option<Lang> {
        let s = s.trim().to_ascii_lowercase();
        if s == "en" || s.starts_with("en-") {
            Some(Lang::En)
        } else if s == "zh" || s.starts_with("zh-") {
            Some(Lang::Zh)
        } else {
            None
        }
    }

    /// The language for a request: the query's `lang`, the `lang` cookie, then the first
    /// language of `Accept-Language` that the pages have (English otherwise).
    pub fn choose(query: Option<&str>, headers: &HeaderMap) -> Lang {
        if let Some(l) = query.and_then(Lang::parse) {
            return l;
        }
        let cookie = headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().strip_prefix("lang="))
            .find_map(Lang::parse);
        if let Some(l) = cookie {
            return l;
        }
        let accept = headers.get(axum::http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let mut best: Option<(f32, Lang)> = None;
        for part in accept.split(',') {
            let mut it = part.split(';');
            let Some(l) = it.next().and_then(Lang::parse) else { continue };
            let q = it.find_map(|p| p.trim().strip_prefix("q=")).and_then(|q| q.parse::<f32>().ok()).unwrap_or(1.0);
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, l));
            }
        }
        best.map_or(Lang::En, |(_, l)| l)
    }

    /// `en` in this language: the Chinese of an English label from [`LABELS`], or the label
    /// itself in English (or when it has no translation).
    pub fn t(self, en: &'static str) -> &'static str {
        self.tr(en)
    }

    /// [`Lang::t`] for a label that is not a literal (an English text built elsewhere).
    pub fn tr<'a>(self, en: &'a str) -> &'a str {
        match self {
            Lang::En => en,
            Lang::Zh => LABELS.iter().find(|(e, _)| *e == en).map_or(en, |(_, zh)| zh),
        }
    }
}

/// English labels and their Chinese.
pub const LABELS: &[(&str, &str)] = &[
    ("Blue carbon ticket registry", "蓝色碳票登记簿"),
    ("Overview", "概览"),
    ("Projects", "项目"),
    ("Project", "项目"),
    ("Tickets", "碳票"),
    ("Ticket", "碳票"),
    ("Serial lookup", "序列号查询"),
    ("Retirements", "注销记录"),
    ("Retirement", "注销"),
    ("Participants", "参与方"),
    ("Participant", "参与方"),
    ("Blocks", "区块"),
    ("Block", "区块"),
    ("Transaction", "交易"),
    ("Transactions", "交易"),
    ("Height", "高度"),
    ("Last block", "最新区块"),
    ("Time", "时间"),
    ("Chain", "链"),
    ("Validators", "验证节点"),
    ("Validator", "验证节点"),
    ("Name", "名称"),
    ("Voting power", "投票权"),
    ("Last signed", "最近签名高度"),
    ("Peers", "对等节点"),
    ("connected", "已连接"),
    ("not connected", "未连接"),
    ("Mempool", "待处理交易"),
    ("This node", "本节点"),
    ("Totals", "总量"),
    ("Issued", "签发"),
    ("Active", "可用"),
    ("Pledged", "质押"),
    ("Frozen", "冻结"),
    ("Retired", "注销"),
    ("Cancelled", "作废"),
    ("By ecosystem", "按生态系统"),
    ("By region", "按地区"),
    ("By vintage", "按年份"),
    ("By project", "按项目"),
    ("Ecosystem", "生态系统"),
    ("Region", "地区"),
    ("Vintage", "年份"),
    ("Status", "状态"),
    ("Owner", "业主"),
    ("Location", "位置"),
    ("Coordinates", "坐标"),
    ("Area", "面积"),
    ("Methodology", "方法学"),
    ("Registered at height", "登记高度"),
    ("Attestations", "核证"),
    ("Verifier", "核证机构"),
    ("Report hash", "报告哈希"),
    ("Period", "监测期"),
    ("Quantity", "数量"),
    ("Statement", "核证声明"),
    ("Serials", "序列号"),
    ("Holder", "持有人"),
    ("State", "状态"),
    ("Detail", "说明"),
    ("Lots", "批次"),
    ("Issued to", "签发给"),
    ("Issued at height", "签发高度"),
    ("Search", "搜索"),
    ("Any", "全部"),
    ("Beneficiary", "受益人"),
    ("Purpose", "用途"),
    ("Jurisdiction", "管辖地"),
    ("From", "起始日期"),
    ("Until", "截止日期"),
    ("Retiree", "注销方"),
    ("Note", "备注"),
    ("Next page", "下一页"),
    ("No results.", "没有结果。"),
    ("Role", "角色"),
    ("Holdings", "持有"),
    ("Admitted by", "准入机构"),
    ("Admitted at height", "准入高度"),
    ("Hash", "哈希"),
    ("Previous block", "上一区块"),
    ("Proposer", "提议者"),
    ("State root", "状态根"),
    ("Commit signatures", "提交签名"),
    ("Signed power", "签名投票权"),
    ("Round", "轮次"),
    ("Kind", "类型"),
    ("Signer", "签名方"),
    ("Result", "结果"),
    ("accepted", "已接受"),
    ("rejected", "已拒绝"),
    ("What it does", "内容"),
    ("Retirement certificate", "注销证书"),
    ("Download the certificate file", "下载证书文件"),
    (
        "Check it offline with `bct verify <file> --genesis genesis.json`: that check trusts no server, this page included.",
        "可用 `bct verify <文件> --genesis genesis.json` 离线核验：离线核验不依赖任何服务器（包括本页面）。",
    ),
    ("Print", "打印"),
    ("Serial number", "序列号"),
    ("Look up", "查询"),
    ("Consumed by retirement", "注销记录"),
    ("Not found", "未找到"),
    ("Bad request", "请求有误"),
    ("Something went wrong", "出错了"),
    ("Too many requests", "请求过多"),
    ("Busy", "繁忙"),
    ("Back to the overview", "返回概览"),
    ("Issuance and retirement over time", "签发与注销趋势"),
    ("Nothing issued yet.", "尚未签发。"),
    ("Transactions in this block", "本区块交易"),
    ("Nonce", "序号"),
    ("Search by id or name", "按编号或名称搜索"),
    ("Amounts in tonnes of CO₂-equivalent.", "数量单位：吨二氧化碳当量。"),
    ("Read-only view served by this node; the JSON API is at", "本节点提供的只读视图；JSON 接口位于"),
    ("Signed by", "签名验证节点"),
    ("Trades", "成交"),
    ("Download as CSV", "下载 CSV"),
    ("History", "流转记录"),
    ("Volume and volume-weighted price", "成交量与成交量加权均价"),
    ("Currency", "币种"),
    ("Volume-weighted price", "加权均价"),
    ("Seller", "卖方"),
    ("Buyer", "买方"),
    ("Price", "价格"),
    ("Reference", "成交编号"),
    ("Check a certificate", "核验证书"),
    ("Check", "核验"),
    (
        "Choose a certificate file (from this site or from `bct certificate get`) or paste its content: the node checks it against its genesis with the code of `bct verify`.",
        "选择证书文件（来自本站或 `bct certificate get`）或粘贴其内容：节点用 `bct verify` 的同一代码对照创世文件核验。",
    ),
    ("Retirements of this ticket", "本碳票的注销记录"),
    ("Each check", "逐项核验"),
    ("Block hash", "区块哈希"),
    ("Certificate", "证书编号"),
    ("passed", "通过"),
    ("failed", "未通过"),
    ("not run", "未执行"),
    ("The file is a bct certificate file whose embedded certificate decodes", "文件是 bct 证书文件，内嵌证书可解码"),
    ("The readable summary says exactly what the certificate proves", "可读摘要与证书所证明的内容完全一致"),
    (
        "The certificate, its block and its transaction are for the genesis chain",
        "证书、其区块与交易均属于创世文件所定义的链",
    ),
    ("The retirement names the key that signed it", "注销交易所载签名人即签名密钥的地址"),
    ("The ledger accepted the retirement and retired exactly its quantity", "账本已接受该注销，且注销数量与交易一致"),
    ("The retirement and its result are in the block (Merkle proofs)", "注销交易及其结果在区块中（默克尔证明）"),
    ("The block's validator set is the genesis set", "区块的验证节点集合即创世集合"),
    ("The validators' commit is for this block", "验证节点的提交签名针对本区块"),
    ("The retirement record says what the transaction says", "注销记录与交易内容一致"),
    ("The retiree's signature is valid", "注销人的签名有效"),
    (
        "Validators with more than 2/3 of the voting power signed the block",
        "持有超过 2/3 投票权的验证节点签署了该区块",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_unique_and_translated() {
        for (i, (en, zh)) in LABELS.iter().enumerate() {
            assert!(!zh.is_empty() && zh != en, "{en}");
            assert!(LABELS[i + 1..].iter().all(|(e, _)| e != en), "{en} twice");
        }
        assert_eq!(Lang::Zh.t("Projects"), "项目");
        assert_eq!(Lang::En.t("Projects"), "Projects");
    }

    #[test]
    fn the_language_follows_query_cookie_then_accept_language() {
        let mut h = HeaderMap::new();
        assert_eq!(Lang::choose(None, &h), Lang::En);
        h.insert("accept-language", "fr;q=0.9, zh-CN;q=0.8, en;q=0.5".parse().expect("header"));
        assert_eq!(Lang::choose(None, &h), Lang::Zh);
        h.insert("cookie", "a=b; lang=en".parse().expect("header"));
        assert_eq!(Lang::choose(None, &h), Lang::En);
        assert_eq!(Lang::choose(Some("zh"), &h), Lang::Zh);
        assert_eq!(Lang::choose(Some("xx"), &h), Lang::En);
    }
}
