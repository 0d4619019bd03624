//! Landing an integration run: the destination ref, the tasks' "integrated" events and the
//! notes in one ref transaction, so that a crash cannot leave the target moved and the
//! records saying otherwise. A checked-out destination's worktree and index are brought to
//! the new commit first (see [`crate::git::checkout`]) and back if the transaction fails.

use std::path::PathBuf;

use anyhow::Context as _;
use gix::ObjectId;
use gix::refs::transaction::RefEdit;

use crate::integrate::Integrated;
use crate::state::{TaskRecord, TaskState};

/// What to write.
pub struct Landing<'a> {
    /// The destination's full ref name, its value at the start (`None`: create it), the new head.
    pub dest_ref: &'a str,
    pub before: Option<ObjectId>,
    pub after: ObjectId,
    /// Where the destination is checked out, if anywhere: it follows.
    pub checked_out: Option<PathBuf>,
    /// Each task record as read at the start (record commit, record), and the tasks integrated.
    pub records: &'a [(ObjectId, TaskRecord)],
    pub integrated: &'a [Integrated],
    /// JSON notes: (annotated object, note).
    pub notes: &'a [(ObjectId, serde_json::Value)],
}

/// Lands it all or nothing. A lost compare-and-swap (the destination, a record or the notes
/// moved meanwhile) is exit 4 and leaves the worktree as it was.
pub fn land(repo: &gix::Repository, landing: &Landing<'_>) -> anyhow::Result<()> {
    // Records and notes first: should the files backend stop half-way through renaming its
    // locks, the target is the one left behind, and a rerun recognises the merged work.
    let mut edits = record_edits(repo, landing.records, landing.integrated)?;
    edits.extend(notes_edit(repo, landing.notes)?);
    edits.push(crate::git::cas_edit(landing.dest_ref, landing.before, landing.after, "git-agent: integrate")?);
    let followed = match (&landing.checked_out, landing.before) {
        (Some(worktree), Some(before)) => {
            Some(crate::git::checkout::follow(worktree, landing.dest_ref, before, landing.after)?)
        }
        _ => None,
    };
    crate::pause::point("integrate-ref-update");
    let result = crate::git::apply_transaction(repo, edits).map_err(nothing_landed);
    if let (Err(_), Some(followed)) = (&result, followed)
        && let Err(err) = followed.undo()
    {
        return result.context(format!(
            "and the worktree {} could not be taken back to {}: {err:#}",
            landing.checked_out.as_ref().expect("followed").display(),
            crate::git::short_id(&landing.before.expect("followed"))
        ));
    }
    result
}

/// A lost compare-and-swap said plainly: which ref moved, and that nothing was written.
fn nothing_landed(err: anyhow::Error) -> anyhow::Error {
    let Some(fail) = err.chain().find_map(|cause| cause.downcast_ref::<crate::error::Fail>()) else { return err };
    let message = format!("nothing was landed: {}", fail.message);
    anyhow::Error::new(
        crate::error::Fail::new(fail.exit, message)
            .hint("the target, a task record or the notes changed during the run; look, then run integrate again"),
    )
}

/// Records the notes of a run that did not land (it stopped on a conflict or a failed test):
/// what was tested stays known.
pub fn record_notes(repo: &gix::Repository, notes: &[(ObjectId, serde_json::Value)]) -> anyhow::Result<()> {
    if let Some(edit) = notes_edit(repo, notes)? {
        crate::git::apply_transaction(repo, vec![edit])?;
    }
    Ok(())
}

/// An "integrated" event for each landed task whose record does not say so already.
fn record_edits(
    repo: &gix::Repository,
    records: &[(ObjectId, TaskRecord)],
    integrated: &[Integrated],
) -> anyhow::Result<Vec<RefEdit>> {
    let mut edits = Vec::new();
    for Integrated { task, commit, tip } in integrated {
        let Some((record_commit, record)) = records.iter().find(|(_, r)| &r.name == task) else { continue };
        let tip_hex = tip.to_string();
        if record.state == TaskState::Integrated && record.integrated_tip.as_deref() == Some(tip_hex.as_str()) {
            continue;
        }
        let change = crate::state::Change::Integrated { commit: commit.to_string(), tip: tip_hex };
        let (new, _, message) = crate::state::event_commit(repo, *record_commit, record, change)?;
        let name = crate::state::record_ref(task);
        edits.push(crate::git::cas_edit(&name, Some(*record_commit), new, &format!("git-agent: {}", message.trim()))?);
    }
    Ok(edits)
}

/// This repository's machine id (see [`crate::layout::machine_id_file`]), made on first need.
pub fn machine_id(repo: &gix::Repository) -> anyhow::Result<String> {
    use anyhow::Context as _;
    let path = crate::layout::machine_id_file(repo.common_dir());
    let valid = |text: &str| text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit());
    if let Ok(text) = std::fs::read_to_string(&path)
        && valid(text.trim())
    {
        return Ok(text.trim().to_owned());
    }
    let dir = path.parent().expect("a file in a directory");
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // Written aside and renamed: two processes making it at once agree on one.
    let aside = dir.join(format!("machine-id.{}", std::process::id()));
    std::fs::write(&aside, crate::oplog::new_id() + "\n")
        .with_context(|| format!("cannot write {}", aside.display()))?;
    if std::fs::hard_link(&aside, &path).is_err() && !path.exists() {
        std::fs::rename(&aside, &path).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let _ = std::fs::remove_file(&aside);
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text.trim().to_owned())
}

/// The results in one note: a JSON value per line (sync's merge of two machines' notes on the
/// same object keeps both lines; a note written here has one).
pub fn note_values(data: &[u8]) -> Vec<serde_json::Value> {
    data.split(|&b| b == b'\n').filter_map(|line| serde_json::from_slice(line).ok()).collect()
}

/// The note for `object`: `note`, after the results already there for other tasks or commands
/// (another machine's, merged in by sync); a result for the same task and command is replaced.
fn with_other_results(
    existing: &mut gix::note::Platform<'_>,
    object: ObjectId,
    note: &serde_json::Value,
) -> anyhow::Result<String> {
    let same = |value: &serde_json::Value| {
        value["task"] == note["task"] && value["command"] == note["command"] && value["machine"] == note["machine"]
    };
    let mut lines = String::new();
    for value in existing.get(object)?.iter().flat_map(|n| note_values(&n.blob.data)).filter(|v| !same(v)) {
        lines.push_str(&format!("{value}\n"));
    }
    lines.push_str(&format!("{note}\n"));
    Ok(lines)
}

/// One commit on refs/notes/agent holding `notes` (replacing earlier notes on the same
/// objects), in git's notes-tree layout so that `git notes --ref agent` reads and extends it;
/// the edit moving the notes ref to it, by compare-and-swap.
fn notes_edit(repo: &gix::Repository, notes: &[(ObjectId, serde_json::Value)]) -> anyhow::Result<Option<RefEdit>> {
    if notes.is_empty() {
        return Ok(None);
    }
    let parent = crate::git::ref_target(repo, crate::layout::NOTES_REF)?;
    let root = match parent {
        Some(commit) => repo.find_commit(commit)?.tree_id()?.detach(),
        None => ObjectId::empty_tree(repo.object_hash()),
    };
    let objects = &repo.objects;
    let mut tree = gix::note::plumbing::State::new(root, objects)
        .map_err(|err| anyhow::anyhow!("cannot read the notes in {}: {err}", crate::layout::NOTES_REF))?;
    let mut existing = repo.notes()?.with_refs([crate::layout::NOTES_REF])?;
    let machine = machine_id(repo)?;
    for (object, note) in notes {
        let mut note = note.clone();
        note["machine"] = machine.clone().into();
        let blob = repo.write_blob(with_other_results(&mut existing, *object, &note)?)?.detach();
        tree.edit(*object, Some(blob), objects).map_err(|err| anyhow::anyhow!("cannot add a note: {err}"))?;
    }
    let tree = tree.write(objects).map_err(|err| anyhow::anyhow!("cannot write the notes tree: {err}"))?;
    let mut tasks: Vec<&str> = notes.iter().filter_map(|(_, note)| note["task"].as_str()).collect();
    tasks.dedup();
    let message = format!("git-agent: integrate {}\n", tasks.join(", "));
    let signature = crate::git::signature(repo)?;
    let commit = gix::objs::Commit {
        tree,
        parents: parent.into_iter().collect(),
        author: signature.clone(),
        committer: signature,
        encoding: None,
        message: message.as_str().into(),
        extra_headers: Vec::new(),
    };
    let commit = repo.write_object(&commit)?.detach();
    Ok(Some(crate::git::cas_edit(crate::layout::NOTES_REF, parent, commit, &format!("notes: {}", message.trim()))?))
}
