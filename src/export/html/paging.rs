//! Splitting a channel into pages of whole threads, and the page links.

use std::ops::Range;

/// Groups threads (given by their number of posts, in order) into pages of at most `page_size`
/// posts. A thread is never split: a page holds whole threads, and a thread longer than
/// `page_size` gets a page of its own. Returns the ranges of thread indexes, at least one
/// (empty) page for a channel without posts.
pub fn paginate(thread_sizes: &[usize], page_size: usize) -> Vec<Range<usize>> {
    let page_size = page_size.max(1);
    let mut pages = Vec::new();
    let (mut start, mut posts) = (0, 0);
    for (i, &n) in thread_sizes.iter().enumerate() {
        if posts > 0 && posts + n > page_size {
            pages.push(start..i);
            start = i;
            posts = 0;
        }
        posts += n;
    }
    if posts > 0 || pages.is_empty() {
        pages.push(start..thread_sizes.len());
    }
    pages
}

/// One entry of a page navigation bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NavItem {
    /// A page number (1-based); `true` for the current page.
    Page(usize, bool),
    /// Left-out page numbers.
    Gap,
}

/// The page numbers to show for page `current` of `total`: the first and last page, and the
/// pages around the current one; gaps for the rest.
pub fn nav_items(current: usize, total: usize) -> Vec<NavItem> {
    const AROUND: usize = 2;
    let mut out = Vec::new();
    let mut last_shown = 0;
    for p in 1..=total {
        let near = p + AROUND >= current && p <= current + AROUND;
        if p == 1 || p == total || near {
            if last_shown + 1 < p {
                out.push(NavItem::Gap);
            }
            out.push(NavItem::Page(p, p == current));
            last_shown = p;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_hold_whole_threads() {
        assert_eq!(paginate(&[], 500), vec![0..0]);
        assert_eq!(paginate(&[1, 1, 1], 2), vec![0..2, 2..3]);
        assert_eq!(paginate(&[1, 3, 1], 2), vec![0..1, 1..2, 2..3]);
        assert_eq!(paginate(&[2, 2, 1, 1], 4), vec![0..2, 2..4]);
        assert_eq!(paginate(&[5], 2), vec![0..1]);
        assert_eq!(paginate(&[1, 1], 0), vec![0..1, 1..2]);
    }

    #[test]
    fn every_thread_is_on_exactly_one_page_and_pages_stay_within_size() {
        let sizes: Vec<usize> = (0..300).map(|i| 1 + (i * 7 % 13) % 5).collect();
        for size in [1, 3, 10, 50, 500] {
            let pages = paginate(&sizes, size);
            let mut next = 0;
            for p in &pages {
                assert_eq!(p.start, next);
                assert!(!p.is_empty());
                let posts: usize = sizes[p.clone()].iter().sum();
                assert!(posts <= size || p.len() == 1, "{p:?} has {posts} > {size}");
                next = p.end;
            }
            assert_eq!(next, sizes.len());
        }
    }

    #[test]
    fn navigation_shows_ends_and_neighbours() {
        use NavItem::{Gap, Page};
        assert_eq!(nav_items(1, 1), vec![Page(1, true)]);
        assert_eq!(
            nav_items(1, 3),
            vec![Page(1, true), Page(2, false), Page(3, false)]
        );
        assert_eq!(
            nav_items(6, 20),
            vec![
                Page(1, false),
                Gap,
                Page(4, false),
                Page(5, false),
                Page(6, true),
                Page(7, false),
                Page(8, false),
                Gap,
                Page(20, false)
            ]
        );
        assert_eq!(
            nav_items(2, 5),
            vec![
                Page(1, false),
                Page(2, true),
                Page(3, false),
                Page(4, false),
                Page(5, false)
            ]
        );
    }
}
