//! Digests: what the limiter held back for one member, merged into as few messages as fit WeCom's
//! byte limit. Every held item appears in exactly one digest; none is dropped.

use super::store::Held;

/// A summary longer than this is cut, so that any one item always fits in a digest.
const MAX_SUMMARY_BYTES: usize = 256;

fn cut(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    if line.len() <= max {
        return line.to_owned();
    }
    let mut end = max - '…'.len_utf8();
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &line[..end])
}

fn header(count: usize) -> String {
    format!("以下 {count} 条通知因企业微信频率限制合并发送：")
}

/// Renders `items` (oldest first) as digest texts of at most `limit` bytes each, grouping items
/// of the same event on one line: `新用户（3）：alice、bob、carol`.
pub fn build(items: &[Held], limit: usize) -> Vec<String> {
    let mut digests = Vec::new();
    let mut current: Vec<(String, Vec<String>)> = Vec::new();
    let mut count = 0;
    let room = limit - header(999_999).len();
    let size = |groups: &[(String, Vec<String>)]| -> usize {
        groups.iter().map(|(label, s)| line(label, s).len() + 1).sum()
    };
    for item in items {
        let summary = cut(&item.summary, MAX_SUMMARY_BYTES);
        let mut next = current.clone();
        match next.iter_mut().find(|(label, _)| *label == item.label) {
            Some((_, summaries)) => summaries.push(summary.clone()),
            None => next.push((item.label.clone(), vec![summary.clone()])),
        }
        if size(&next) > room && count > 0 {
            digests.push(render(&current, count));
            current = vec![(item.label.clone(), vec![summary])];
            count = 1;
        } else {
            current = next;
            count += 1;
        }
    }
    if count > 0 {
        digests.push(render(&current, count));
    }
    digests
}

fn line(label: &str, summaries: &[String]) -> String {
    format!("{label}（{}）：{}", summaries.len(), summaries.join("、"))
}

fn render(groups: &[(String, Vec<String>)], count: usize) -> String {
    let mut text = header(count);
    for (label, summaries) in groups {
        text.push('\n');
        text.push_str(&line(label, summaries));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(label: &str, summary: &str) -> Held {
        Held {
            key: "alice".into(),
            notification_id: "n".into(),
            event: "e".into(),
            label: label.into(),
            summary: summary.into(),
            created_at: 0,
        }
    }

    #[test]
    fn items_are_grouped_by_event_in_one_message() {
        let items = [held("新用户", "alice"), held("告警", "disk full"), held("新用户", "bob")];
        assert_eq!(
            build(&items, 2048),
            ["以下 3 条通知因企业微信频率限制合并发送：\n新用户（2）：alice、bob\n告警（1）：disk full"]
        );
    }

    #[test]
    fn many_items_split_across_digests_within_the_limit_and_none_is_lost() {
        let items: Vec<Held> = (0..500).map(|i| held("新用户", &format!("user-{i:04}"))).collect();
        let digests = build(&items, 2048);
        assert!(digests.len() > 1);
        assert!(digests.iter().all(|d| d.len() <= 2048));
        let joined = digests.join("\n");
        for i in 0..500 {
            assert_eq!(joined.matches(&format!("user-{i:04}")).count(), 1, "user-{i:04}");
        }
    }

    #[test]
    fn a_huge_summary_is_cut_to_its_first_line_and_a_bounded_size() {
        let digests = build(&[held("告警", &format!("{}\nsecond line", "满".repeat(400)))], 2048);
        assert!(digests[0].len() < 400);
        assert!(!digests[0].contains("second line"));
    }
}
