//! A paged listing read to its end, each item once, and never without end: it stops at a short
//! page (the last), and refuses a full page that brings nothing new (a server or a proxy that
//! answers every page alike) or a listing longer than any real one.

use std::collections::HashSet;

/// Most items read from one paged listing: a generous maximum of a team's or channel's members
/// (100,000) or of custom emojis, with half again as margin. None of these listings says how
/// long it is, so this is the ceiling where nothing else ends a listing that never repeats.
pub(crate) const MAX_LISTED: usize = 150_000;

/// The pages of one listing taken so far.
pub(crate) struct Listing<T> {
    per_page: usize,
    /// The items' ids (`[u8]`, not `String`: a set of 150,000 ids stays a few MiB).
    seen: HashSet<Box<[u8]>>,
    items: Vec<T>,
    pages: usize,
}

/// What to do after a page.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Ask for the page with this number.
    Page(usize),
    /// The listing is complete.
    Done,
}

impl<T> Listing<T> {
    pub(crate) fn new(per_page: usize) -> Self {
        Listing {
            per_page: per_page.max(1),
            seen: HashSet::new(),
            items: Vec::new(),
            pages: 0,
        }
    }

    /// Takes one page; `key` gives an item's id. Items seen on an earlier page are dropped (the
    /// server's pages need not be disjoint: `LIMIT`/`OFFSET` without `ORDER BY`).
    ///
    /// # Errors
    /// Why the listing does not end, for a full page with nothing new, or when the next page
    /// would pass [`MAX_LISTED`].
    pub(crate) fn take(&mut self, page: Vec<T>, key: impl Fn(&T) -> &str) -> Result<Next, String> {
        let full = page.len() >= self.per_page;
        let before = self.items.len();
        for item in page {
            if self.seen.insert(key(&item).as_bytes().into()) {
                self.items.push(item);
            }
        }
        let number = self.pages;
        self.pages += 1;
        if !full {
            return Ok(Next::Done);
        }
        if self.items.len() == before {
            return Err(format!(
                "page {number} is full but lists nothing the pages before it did not"
            ));
        }
        if self.pages * self.per_page >= MAX_LISTED {
            return Err(format!(
                "{} full pages, {MAX_LISTED} items or more, longer than any real listing",
                self.pages
            ));
        }
        Ok(Next::Page(self.pages))
    }

    pub(crate) fn into_items(self) -> Vec<T> {
        self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(ids: impl IntoIterator<Item = usize>) -> Vec<String> {
        ids.into_iter().map(|i| format!("id{i}")).collect()
    }

    fn key(s: &String) -> &str {
        s
    }

    #[test]
    fn a_short_page_is_the_last_and_overlapping_pages_keep_each_item_once() {
        let mut l = Listing::new(3);
        assert_eq!(l.take(page(0..3), key), Ok(Next::Page(1)));
        // The last item of page 0 again, as an unordered LIMIT/OFFSET may answer.
        assert_eq!(l.take(page(2..5), key), Ok(Next::Page(2)));
        assert_eq!(l.take(page(4..6), key), Ok(Next::Done));
        assert_eq!(l.into_items(), page(0..6));

        let mut empty = Listing::<String>::new(3);
        assert_eq!(empty.take(Vec::new(), key), Ok(Next::Done));
    }

    #[test]
    fn a_full_page_with_nothing_new_ends_the_listing() {
        let mut l = Listing::new(3);
        assert_eq!(l.take(page([0, 1, 0]), key), Ok(Next::Page(1)));
        let e = l.take(page([1, 0, 1]), key).unwrap_err();
        assert!(e.contains("page 1 is full"), "{e}");
        // A short page of old items is just the end.
        let mut l = Listing::new(3);
        l.take(page(0..3), key).unwrap();
        assert_eq!(l.take(page([1]), key), Ok(Next::Done));
    }

    #[test]
    fn new_items_forever_stop_at_the_ceiling() {
        let per_page = 200;
        let mut l = Listing::new(per_page);
        let mut next = 0;
        let mut pages = 0;
        let err = loop {
            match l.take(page(next..next + per_page), key) {
                Ok(Next::Page(p)) => assert_eq!(p, pages + 1),
                Ok(Next::Done) => panic!("a full page is never the last"),
                Err(e) => break e,
            }
            pages += 1;
            next += per_page;
        };
        assert_eq!(pages + 1, MAX_LISTED / per_page);
        assert!(err.contains("750 full pages"), "{err}");
    }
}
