//! Ref writes, always compare-and-swap, with errors that carry the right exit code.

use anyhow::{Context as _, anyhow};
use gix::ObjectId;
use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit, RefLog};
use gix::refs::{FullName, Target};

use crate::error::{bad_input, race};
use crate::git::*;

pub fn full_name(name: &str) -> anyhow::Result<FullName> {
    FullName::try_from(name).map_err(|err| anyhow!(bad_input(format!("{name:?} is not a valid ref name: {err}"))))
}

/// The commit a ref points to, if the ref exists.
pub fn ref_target(repo: &gix::Repository, name: &str) -> anyhow::Result<Option<ObjectId>> {
    let Some(mut reference) = repo.try_find_reference(name).with_context(|| format!("cannot read ref {name}"))? else {
        return Ok(None);
    };
    Ok(Some(reference.peel_to_id().with_context(|| format!("cannot resolve ref {name}"))?.detach()))
}

fn log(message: &str) -> LogChange {
    LogChange { mode: RefLog::AndReference, force_create_reflog: true, message: message.into() }
}

/// Creates all `refs` in one transaction, each only if it does not exist yet.
pub fn create_refs(repo: &gix::Repository, refs: &[(&str, ObjectId)], message: &str) -> anyhow::Result<()> {
    let edits = refs
        .iter()
        .map(|(name, id)| {
            Ok(RefEdit::new(
                full_name(name)?,
                Change::Update { log: log(message), expected: PreviousValue::MustNotExist, new: Target::Object(*id) },
            ))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    // The reflog entry is the proof that git-agent created the ref (see `crate::guard`): it is
    // written even where `core.logAllRefUpdates=false` turns reflogs off.
    let mut store = repo.refs.clone();
    if store.write_reflog == gix::refs::store::WriteReflog::Disable {
        store.write_reflog = gix::refs::store::WriteReflog::Normal;
    }
    let committer = signature(repo)?;
    let applied = {
        use gix::lock::acquire::Fail as LockFail;
        let mut time = Default::default();
        store
            .transaction()
            .prepare(edits, LockFail::Immediately, LockFail::Immediately)
            .and_then(|t| t.commit(Some(committer.to_ref(&mut time))))
            .map_err(|err| ref_error(err, "create"))?
    };
    // gix accepts "must not exist" when the ref exists with the very value we write: two
    // spawns of one task both "create" the branch at the base. The applied edit tells.
    if let Some(edit) = applied
        .iter()
        .find(|edit| matches!(&edit.change, Change::Update { expected: PreviousValue::MustExistAndMatch(_), .. }))
    {
        return Err(race(format!("cannot create {}: it exists already", edit.name)).into());
    }
    Ok(())
}

/// Moves `name` from `old` to `new`, only if it still points at `old`.
pub fn update_ref(
    repo: &gix::Repository,
    name: &str,
    old: ObjectId,
    new: ObjectId,
    message: &str,
) -> anyhow::Result<()> {
    let edit = RefEdit::new(
        full_name(name)?,
        Change::Update {
            log: log(message),
            expected: PreviousValue::MustExistAndMatch(Target::Object(old)),
            new: Target::Object(new),
        },
    );
    apply_edits(repo, vec![edit], "update")?;
    Ok(())
}

/// Deletes `name`, only if it still points at `old`.
pub fn delete_ref(repo: &gix::Repository, name: &str, old: ObjectId) -> anyhow::Result<()> {
    let edit = RefEdit::new(
        full_name(name)?,
        Change::Delete { expected: PreviousValue::MustExistAndMatch(Target::Object(old)), log: RefLog::AndReference },
    );
    apply_edits(repo, vec![edit], "delete")?;
    Ok(())
}

/// Applies ref edits with git-agent's identity in the reflog: gix refuses to write a reflog
/// without a committer, and a fresh machine may have no `user.name` configured.
fn apply_edits(repo: &gix::Repository, edits: Vec<RefEdit>, action: &str) -> anyhow::Result<Vec<RefEdit>> {
    let committer = signature(repo)?;
    let mut time = Default::default();
    repo.edit_references_as(edits, Some(committer.to_ref(&mut time))).map_err(|err| ref_error(err, action))
}

/// Turns a failed ref transaction into an error with the right exit code: a ref that exists
/// already or moved meanwhile is refused; a held lock is a lost race.
fn ref_error(err: gix::Error, action: &str) -> anyhow::Error {
    use gix::refs::file::transaction::prepare::{MustNotExist, ReferenceOutOfDate};
    let detail = format!("{err:?}");
    let fail = if let Some(e) = err.downcast_any_ref::<MustNotExist>() {
        race(format!("cannot {action} {}: it exists already (at {})", e.full_name, e.actual))
    } else if let Some(e) = err.downcast_any_ref::<ReferenceOutOfDate>() {
        race(format!("cannot {action} {}: it was changed concurrently (now {})", e.full_name, e.actual))
            .hint("another git-agent or git command changed it; look again and retry")
    } else if err.is_retryable() {
        race(format!("cannot {action} a ref: it is locked by another process"))
            .hint("another git command holds the lock; retry when it has finished")
    } else if err.is_not_found() {
        race(format!("cannot {action} a ref: it was deleted concurrently"))
    } else {
        return anyhow!(err).context(format!("cannot {action} a ref"));
    };
    anyhow!(fail).context(detail)
}

/// Ref edits whose locks are held until [`PendingRefs::commit`]: concurrent writers of these
/// refs fail (and see a lock) meanwhile; dropping the value releases them, writing nothing.
pub struct PendingRefs<'repo> {
    transaction: gix::refs::file::Transaction<'repo, 'repo>,
    repo: &'repo gix::Repository,
}

impl<'repo> PendingRefs<'repo> {
    /// Locks `edits` now. The expectations (must not exist, must match) are checked here.
    fn prepare(repo: &'repo gix::Repository, edits: Vec<RefEdit>, action: &str) -> anyhow::Result<Self> {
        use gix::lock::acquire::Fail as LockFail;
        let transaction = repo
            .refs
            .transaction()
            .prepare(edits, LockFail::Immediately, LockFail::Immediately)
            .map_err(|err| ref_error(err, action))?;
        Ok(PendingRefs { transaction, repo })
    }

    pub fn commit(self) -> anyhow::Result<()> {
        let committer = signature(self.repo)?;
        self.transaction
            .commit(Some(committer.to_ref(&mut Default::default())))
            .map_err(|err| ref_error(err, "update"))?;
        Ok(())
    }
}

/// Locks the deletion of `refs` (each must still point where it was checked); commit later.
pub fn pending_delete<'repo>(
    repo: &'repo gix::Repository,
    refs: &[(&str, ObjectId)],
) -> anyhow::Result<PendingRefs<'repo>> {
    let edits = refs
        .iter()
        .map(|(name, old)| {
            Ok(RefEdit::new(
                full_name(name)?,
                Change::Delete {
                    expected: PreviousValue::MustExistAndMatch(Target::Object(*old)),
                    log: RefLog::AndReference,
                },
            ))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    PendingRefs::prepare(repo, edits, "delete")
}

/// One compare-and-swap edit for [`apply_transaction`]: `name` moves from `old` (`None`: it
/// must not exist yet) to `new`.
pub fn cas_edit(name: &str, old: Option<ObjectId>, new: ObjectId, message: &str) -> anyhow::Result<RefEdit> {
    let expected = old.map_or(PreviousValue::MustNotExist, |old| PreviousValue::MustExistAndMatch(Target::Object(old)));
    Ok(RefEdit::new(full_name(name)?, Change::Update { log: log(message), expected, new: Target::Object(new) }))
}

/// One compare-and-swap deletion for [`apply_transaction`]: `name` must still point to `old`.
pub fn cas_delete_edit(name: &str, old: ObjectId) -> anyhow::Result<RefEdit> {
    Ok(RefEdit::new(
        full_name(name)?,
        Change::Delete { expected: PreviousValue::MustExistAndMatch(Target::Object(old)), log: RefLog::AndReference },
    ))
}

/// An unconditional edit for [`apply_transaction`]: `name` is set to `new`, or deleted (for
/// refs only git-agent writes, like its remote-tracking copies).
pub fn set_edit(name: &str, new: Option<ObjectId>, message: &str) -> anyhow::Result<RefEdit> {
    let change = match new {
        Some(new) => Change::Update { log: log(message), expected: PreviousValue::Any, new: Target::Object(new) },
        None => Change::Delete { expected: PreviousValue::Any, log: RefLog::AndReference },
    };
    Ok(RefEdit::new(full_name(name)?, change))
}

/// Applies `edits` as one transaction: every ref is locked and checked against its expected
/// value first, and one lost expectation rejects them all (exit 4), writing nothing. (The
/// files backend then renames the locks one by one: edits are applied in the order given.)
pub fn apply_transaction(repo: &gix::Repository, edits: Vec<RefEdit>) -> anyhow::Result<()> {
    apply_edits(repo, edits, "update")?;
    Ok(())
}

/// The full ref of a branch named by the user (`x` or `refs/heads/x`), refused as bad input
/// where `git check-ref-format --branch` refuses it: `HEAD`, `@`, names starting with `-`,
/// `@{` (a reflog or previous-branch expression), or anything that is not a valid ref name.
/// All-caps names git keeps in the git directory (`ORIG_HEAD`, `FETCH_HEAD`, `MERGE_HEAD`,
/// `CHERRY_PICK_HEAD`, ...): a branch of that name makes every mention of it ambiguous.
fn is_pseudo_ref(name: &str) -> bool {
    name.ends_with("HEAD") && name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
}

pub fn branch_ref(name: &str) -> anyhow::Result<FullName> {
    let short = name.strip_prefix("refs/heads/").unwrap_or(name);
    let why = if short.is_empty() {
        Some("it is empty")
    } else if short == "HEAD" || short == "@" {
        Some("it names HEAD, not a branch")
    } else if short.starts_with('-') {
        Some("it starts with '-'")
    } else if short.contains("@{") {
        Some("it contains '@{'")
    } else if is_pseudo_ref(short) {
        Some("it is the name of one of git's pseudo-refs (like ORIG_HEAD), which a branch would shadow")
    } else if short.starts_with("remotes/") || short.starts_with("origin/") {
        Some("it looks like a remote-tracking branch")
    } else {
        None
    };
    let full = match why {
        Some(why) => Err(why.to_owned()),
        None => FullName::try_from(format!("refs/heads/{short}")).map_err(|err| err.to_string()),
    };
    full.map_err(|why| {
        anyhow!(
            bad_input(format!("{name:?} is not a valid branch name: {why}"))
                .hint("name a branch as `git check-ref-format --branch` accepts, for example integration/today")
        )
    })
}

/// The names of the refs under `prefix` (for example `refs/heads/`), without it, sorted. Reads
/// names only (no peeling, no objects): shell completion calls it at every TAB.
pub fn ref_names_under(repo: &gix::Repository, prefix: &str) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for reference in repo.references()?.prefixed(prefix)? {
        let reference = reference.map_err(|err| anyhow!("cannot list the refs under {prefix}: {err}"))?;
        names.push(reference.name().as_bstr().to_string().split_off(prefix.len()));
    }
    names.sort();
    Ok(names)
}
