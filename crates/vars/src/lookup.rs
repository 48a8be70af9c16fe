//! Where substitution finds the values of variables: the [`Lookup`] trait and
//! its implementations for common std collections.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash};

/// A set of defined variables.
///
/// Implemented for `BTreeMap` and `HashMap` (keys `String` or `&str`, values
/// anything `AsRef<str>`), for slices, arrays and `Vec`s of `(name, value)`
/// pairs (when a name occurs twice in a list, the *last* pair wins, as with
/// repeated `--var` flags), and for references to any of these.
pub trait Lookup {
    /// The value of `name`, or `None` when it is not defined.
    fn get(&self, name: &str) -> Option<&str>;

    /// Every defined name (used to suggest a near name for an undefined one).
    fn names(&self) -> Box<dyn Iterator<Item = &str> + '_>;
}

impl<T: Lookup + ?Sized> Lookup for &T {
    fn get(&self, name: &str) -> Option<&str> {
        (**self).get(name)
    }

    fn names(&self) -> Box<dyn Iterator<Item = &str> + '_> {
        (**self).names()
    }
}

impl<K, V> Lookup for BTreeMap<K, V>
where
    K: Borrow<str> + Ord,
    V: AsRef<str>,
{
    fn get(&self, name: &str) -> Option<&str> {
        BTreeMap::get(self, name).map(AsRef::as_ref)
    }

    fn names(&self) -> Box<dyn Iterator<Item = &str> + '_> {
        Box::new(self.keys().map(Borrow::borrow))
    }
}

impl<K, V, S> Lookup for HashMap<K, V, S>
where
    K: Borrow<str> + Hash + Eq,
    V: AsRef<str>,
    S: BuildHasher,
{
    fn get(&self, name: &str) -> Option<&str> {
        HashMap::get(self, name).map(AsRef::as_ref)
    }

    fn names(&self) -> Box<dyn Iterator<Item = &str> + '_> {
        Box::new(self.keys().map(Borrow::borrow))
    }
}

impl<K, V> Lookup for [(K, V)]
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .rev()
            .find(|(key, _)| key.as_ref() == name)
            .map(|(_, value)| value.as_ref())
    }

    fn names(&self) -> Box<dyn Iterator<Item = &str> + '_> {
        Box::new(self.iter().map(|(key, _)| key.as_ref()))
    }
}

impl<K, V, const N: usize> Lookup for [(K, V); N]
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    fn get(&self, name: &str) -> Option<&str> {
        Lookup::get(self.as_slice(), name)
    }

    fn names(&self) -> Box<dyn Iterator<Item = &str> + '_> {
        Lookup::names(self.as_slice())
    }
}

impl<K, V> Lookup for Vec<(K, V)>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    fn get(&self, name: &str) -> Option<&str> {
        Lookup::get(self.as_slice(), name)
    }

    fn names(&self) -> Box<dyn Iterator<Item = &str> + '_> {
        Lookup::names(self.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(vars: &dyn Lookup) {
        assert_eq!(vars.get("A"), Some("1"));
        assert_eq!(vars.get("B"), Some("2"));
        assert_eq!(vars.get("C"), None);
        assert_eq!(vars.get("a"), None);
        let mut names: Vec<&str> = vars.names().collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names, ["A", "B"]);
    }

    #[test]
    fn every_implementation_agrees() {
        let btree: BTreeMap<String, String> = [("A".into(), "1".into()), ("B".into(), "2".into())]
            .into_iter()
            .collect();
        check(&btree);
        let btree_str: BTreeMap<&str, &str> = [("A", "1"), ("B", "2")].into_iter().collect();
        check(&btree_str);
        let hash: HashMap<String, String> = btree.clone().into_iter().collect();
        check(&hash);
        let array = [("A", "1"), ("B", "2")];
        check(&array);
        let slice: &[(&str, &str)] = &array;
        check(&slice);
        let owned: Vec<(String, String)> = btree.into_iter().collect();
        check(&owned);
        check(&&owned);
    }

    #[test]
    fn later_pair_wins_in_lists() {
        let pairs = vec![("A", "0"), ("A", "1"), ("B", "2")];
        check(&pairs);
    }

    #[test]
    fn empty_lookups() {
        let empty: Vec<(String, String)> = Vec::new();
        assert_eq!(empty.get("A"), None);
        assert_eq!(empty.names().count(), 0);
        let empty_map: BTreeMap<String, String> = BTreeMap::new();
        assert_eq!(Lookup::get(&empty_map, ""), None);
    }
}
