//! The in-memory data model (`World`): entities, indexes, clock, queries and mutations.

use crate::content::{self, Kind};
use crate::id::Id;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Server configuration knobs the fake honours.
#[derive(Clone, Debug)]
pub struct Config {
    /// `ServiceSettings.EnableCustomEmoji`; false => emoji endpoints answer 501.
    pub custom_emoji_enabled: bool,
    /// `RateLimitSettings` when enabled: (per_sec, max_burst). `None` = off (the real default).
    pub rate_limit: Option<(u32, u32)>,
    /// `RateLimitSettings.VaryByUser` (default false): buckets by token, plus one by user id
    /// whose headers come as a second set.
    pub rate_limit_vary_by_user: bool,
    /// `model.CurrentVersion` used in ETags and `X-Version-ID`.
    pub server_version: String,
    /// `ServiceSettings.MaximumPayloadSizeBytes` (default 300000).
    pub max_payload_bytes: usize,
    /// Fault injection (off by default). Changing it restarts the fault sequence.
    pub faults: crate::faults::Faults,
    /// Hostile-server modes (all off by default).
    pub hostile: crate::hostile::Hostile,
    /// `ServiceSettings.WebserverMode` (default "gzip", as on the real server).
    pub webserver_mode: crate::gzip::WebserverMode,
    /// How far the server's clock is from the wall clock (ms; NTP trouble, a fast cluster
    /// node). Posts stamped meanwhile keep their times when it is set back; the `Date` header
    /// follows it. Set it with [`World::set_clock_offset`].
    pub clock_offset_ms: i64,
    /// Newer servers filter `before` pages after reading them and compute the cursors after
    /// filtering (`getPostsForChannel`: `revealBurnOnReadPostsForUser` ->
    /// `removePostFromList`, on Cloud `filterInaccessiblePosts`; then
    /// `AddCursorIdsForPostList`): a filtered page is short and gets `prev_post_id = ""`
    /// although older posts remain. When on, `before` pages drop the posts that
    /// [`crate::posts::filtered_from_pages`] picks (about one in 40).
    pub filter_before_pages: bool,
    /// `TeamSettings.ExperimentalViewArchivedChannels` (default true, as newer servers force
    /// it). Off (servers up to v10): `getPostsForChannel` refuses archived channels with 403.
    pub view_archived_channels: bool,
    /// Users without `view_members` (guests, or a permission scheme that takes it from
    /// users): `GetViewUsersRestrictions` limits what they see of other users to the members
    /// of channels they belong to. System admins are never restricted. Default off.
    pub restrict_view_members: bool,
    /// The hostile mode "ids shaped like paths": (real id, hostile id) of the objects whose ids
    /// every JSON answer shows as a path (`../../x`, `/abs/x`, NUL, `..`, look-alikes);
    /// empty = off. Set with `FakeServer::set_path_ids` ([`crate::hostile::pick_path_ids`]).
    pub path_ids: Vec<crate::hostile::PathId>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            custom_emoji_enabled: true,
            rate_limit: None,
            rate_limit_vary_by_user: false,
            server_version: "10.11.0".into(),
            max_payload_bytes: 300_000,
            faults: crate::faults::Faults::default(),
            hostile: crate::hostile::Hostile::default(),
            webserver_mode: crate::gzip::WebserverMode::default(),
            clock_offset_ms: 0,
            filter_before_pages: false,
            path_ids: Vec::new(),
            view_archived_channels: true,
            restrict_view_members: false,
        }
    }
}

#[derive(Clone, Debug)]
pub struct User {
    pub id: Id,
    pub username: String,
    pub email: String,
    pub password: String,
    pub first_name: String,
    pub last_name: String,
    pub nickname: String,
    pub position: String,
    pub roles: String,
    pub create_at: i64,
    pub update_at: i64,
    pub delete_at: i64,
    pub last_password_update: i64,
    /// 0 = no uploaded picture.
    pub last_picture_update: i64,
    /// Base32 TOTP secret; empty = MFA not active ([`World::enable_mfa`]).
    pub mfa_secret: String,
}

#[derive(Clone, Debug)]
pub struct TeamMember {
    pub user_id: Id,
    pub roles: String,
    pub delete_at: i64,
    pub create_at: i64,
}

#[derive(Clone, Debug)]
pub struct Team {
    pub id: Id,
    pub name: String,
    pub display_name: String,
    pub description: String,
    /// 'O' (open) or 'I' (invite).
    pub team_type: char,
    pub create_at: i64,
    pub update_at: i64,
    pub delete_at: i64,
    pub email: String,
    pub invite_id: Id,
    pub allow_open_invite: bool,
    /// 0 = no icon (field omitted from JSON).
    pub last_team_icon_update: i64,
    /// Keyed by user id (so `ORDER BY UserId` is iteration order). Left members have delete_at > 0.
    pub members: BTreeMap<Id, TeamMember>,
}

#[derive(Clone, Debug)]
pub struct ChannelMember {
    pub user_id: Id,
    pub roles: String,
    pub last_viewed_at: i64,
    pub msg_count: i64,
    pub msg_count_root: i64,
    pub last_update_at: i64,
    pub scheme_admin: bool,
}

#[derive(Clone, Debug)]
pub struct Channel {
    pub id: Id,
    /// `Id::NONE` for D/G channels.
    pub team_id: Id,
    /// 'O', 'P', 'D' or 'G'.
    pub channel_type: char,
    pub name: String,
    pub display_name: String,
    pub header: String,
    pub purpose: String,
    pub create_at: i64,
    pub update_at: i64,
    pub delete_at: i64,
    pub last_post_at: i64,
    pub last_root_post_at: i64,
    pub total_msg_count: i64,
    pub total_msg_count_root: i64,
    pub creator_id: Id,
    /// Current members keyed by user id (ChannelMembers rows are deleted when a user leaves).
    pub members: BTreeMap<Id, ChannelMember>,
    /// Non-deleted, non-history posts sorted ascending by (create_at, id).
    pub live: Vec<(i64, Id)>,
    /// Every post row of the channel (incl. deleted and edit-history rows) by (update_at, id).
    pub by_update: BTreeSet<(i64, Id)>,
}

#[derive(Clone, Debug)]
pub struct Post {
    pub id: Id,
    pub create_at: i64,
    pub update_at: i64,
    pub edit_at: i64,
    pub delete_at: i64,
    pub is_pinned: bool,
    pub user_id: Id,
    pub channel_id: Id,
    pub root_id: Id,
    pub original_id: Id,
    pub message: String,
    pub post_type: String,
    pub props: Map<String, Value>,
    pub file_ids: Vec<Id>,
    pub has_reactions: bool,
}

#[derive(Clone, Debug)]
pub struct Reaction {
    pub user_id: Id,
    pub post_id: Id,
    pub emoji_name: String,
    pub create_at: i64,
    pub update_at: i64,
    pub channel_id: Id,
}

#[derive(Clone, Debug)]
pub struct FileInfo {
    pub id: Id,
    pub user_id: Id,
    pub post_id: Id,
    pub channel_id: Id,
    pub create_at: i64,
    pub update_at: i64,
    pub delete_at: i64,
    pub name: String,
    pub extension: String,
    pub size: u64,
    pub mime_type: String,
    /// Image dimensions (0 for non-images).
    pub width: u32,
    pub height: u32,
    pub kind: Kind,
}

#[derive(Clone, Debug)]
pub struct Emoji {
    pub id: Id,
    pub creator_id: Id,
    pub name: String,
    pub create_at: i64,
    pub update_at: i64,
    pub delete_at: i64,
    /// Png, Gif or Jpeg.
    pub kind: Kind,
}

/// Everything the fake server knows. Public fields so tests can inspect anything.
pub struct World {
    pub seed: u64,
    pub config: Config,
    pub users: BTreeMap<Id, User>,
    pub teams: BTreeMap<Id, Team>,
    pub channels: BTreeMap<Id, Channel>,
    pub posts: HashMap<Id, Post>,
    /// root id -> reply ids (incl. deleted replies, excl. history rows), in creation order.
    pub replies: HashMap<Id, Vec<Id>>,
    /// live post id -> edit-history row ids, oldest first.
    pub history: HashMap<Id, Vec<Id>>,
    /// post id -> reactions (ordered by create_at).
    pub reactions: HashMap<Id, Vec<Reaction>>,
    pub files: HashMap<Id, FileInfo>,
    pub emojis: BTreeMap<Id, Emoji>,
    /// session token -> user id.
    pub sessions: HashMap<String, Id>,
    /// personal access token -> user id.
    pub access_tokens: HashMap<String, Id>,
    /// Last timestamp handed out by the clock.
    pub clock_last: i64,
    /// Users whose generated default avatar was already "written to storage" (see README).
    pub default_picture_written: HashSet<Id>,
    pub(crate) rng: ChaCha8Rng,
}

/// Wall clock in ms.
pub fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// An HTTP `Date` (IMF-fixdate, `Sat, 05 Dec 2026 07:43:51 GMT`) for a time in ms.
pub fn http_date(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // days_from_civil inverted (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        WD[days.rem_euclid(7) as usize],
        d,
        MON[(m - 1) as usize],
        y,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `Post.IsJoinLeaveMessage` (`model/post.go`): these do not count in `total_msg_count`.
fn is_join_leave(t: &str) -> bool {
    matches!(
        t,
        "system_join_leave"
            | "system_add_remove"
            | "system_join_channel"
            | "system_leave_channel"
            | "system_join_team"
            | "system_leave_team"
            | "system_add_to_channel"
            | "system_remove_from_channel"
            | "system_add_to_team"
            | "system_remove_from_team"
    )
}

impl World {
    /// An empty world (no users); `generate` fills one with sample data.
    pub fn empty(seed: u64) -> World {
        World {
            seed,
            config: Config::default(),
            users: BTreeMap::new(),
            teams: BTreeMap::new(),
            channels: BTreeMap::new(),
            posts: HashMap::new(),
            replies: HashMap::new(),
            history: HashMap::new(),
            reactions: HashMap::new(),
            files: HashMap::new(),
            emojis: BTreeMap::new(),
            sessions: HashMap::new(),
            access_tokens: HashMap::new(),
            clock_last: 0,
            default_picture_written: HashSet::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// The server's clock now (wall clock plus [`Config::clock_offset_ms`]).
    pub fn now_ms(&self) -> i64 {
        wall_ms() + self.config.clock_offset_ms
    }

    /// Sets the server's clock `offset_ms` away from the wall clock. Set back, later posts get
    /// the earlier times again while those stamped meanwhile keep their future ones.
    pub fn set_clock_offset(&mut self, offset_ms: i64) {
        self.config.clock_offset_ms = offset_ms;
        self.clock_last = self.clock_last.min(self.now_ms());
    }

    /// Next timestamp for a mutation: `max(server clock, last + 1)`.
    pub fn tick(&mut self) -> i64 {
        let t = self.now_ms().max(self.clock_last + 1);
        self.clock_last = t;
        t
    }

    pub(crate) fn at(&mut self, t: i64) -> i64 {
        self.clock_last = self.clock_last.max(t);
        t
    }

    /// A new id from the world's seeded RNG.
    pub fn new_id(&mut self) -> Id {
        Id::generate(&mut self.rng)
    }

    // ------------------------------------------------------------------ queries

    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.get(&Id::lookup(id))
    }
    pub fn user_by_name(&self, username: &str) -> Option<&User> {
        self.users.values().find(|u| u.username == username)
    }
    pub fn team(&self, id: &str) -> Option<&Team> {
        self.teams.get(&Id::lookup(id))
    }
    pub fn team_by_name(&self, name: &str) -> Option<&Team> {
        self.teams.values().find(|t| t.name == name)
    }
    pub fn channel(&self, id: &str) -> Option<&Channel> {
        self.channels.get(&Id::lookup(id))
    }
    /// Channel by team id (`""` for D/G channels) and name.
    pub fn channel_by_name(&self, team_id: &str, name: &str) -> Option<&Channel> {
        let tid = Id::lookup(team_id);
        self.channels
            .values()
            .find(|c| c.name == name && c.team_id == tid)
    }
    /// Channel by team *name* and channel name (convenience for tests).
    pub fn channel_by_names(&self, team_name: &str, name: &str) -> Option<&Channel> {
        let tid = self.team_by_name(team_name)?.id;
        self.channel_by_name(tid.as_str(), name)
    }
    pub fn post(&self, id: &str) -> Option<&Post> {
        self.posts.get(&Id::lookup(id))
    }
    pub fn file(&self, id: &str) -> Option<&FileInfo> {
        self.files.get(&Id::lookup(id))
    }
    pub fn emoji(&self, id: &str) -> Option<&Emoji> {
        self.emojis.get(&Id::lookup(id))
    }
    pub fn emoji_by_name(&self, name: &str) -> Option<&Emoji> {
        self.emojis
            .values()
            .find(|e| e.name == name && e.delete_at == 0)
    }

    /// Active member of the team?
    pub(crate) fn is_team_member(&self, team: Id, user: Id) -> bool {
        self.teams
            .get(&team)
            .and_then(|t| t.members.get(&user))
            .is_some_and(|m| m.delete_at == 0)
    }

    /// Can `user` read channel `ch` (member, or a team member for an open channel)?
    pub fn can_read_channel(&self, user: Id, ch: &Channel) -> bool {
        ch.members.contains_key(&user)
            || (ch.channel_type == 'O' && self.is_team_member(ch.team_id, user))
    }

    /// Does `GetViewUsersRestrictions` restrict this caller (no `view_members`)?
    pub fn view_restricted(&self, viewer: Id) -> bool {
        self.config.restrict_view_members
            && !self
                .users
                .get(&viewer)
                .is_some_and(|u| u.roles.split(' ').any(|r| r == "system_admin"))
    }

    /// `App.UserCanSeeOtherUser`: without `view_members` (`config.restrict_view_members`, not a
    /// system admin), `GetViewUsersRestrictions` gives no teams and the caller's channels
    /// (`GetAllChannelMembersForUser`, archived ones included): `other` is visible when it is
    /// the caller or a member of one of them.
    pub fn can_see_user(&self, viewer: Id, other: Id) -> bool {
        if viewer == other || !self.view_restricted(viewer) {
            return true;
        }
        self.channels
            .values()
            .any(|c| c.members.contains_key(&viewer) && c.members.contains_key(&other))
    }

    /// Does channel `id` exist and can `user` read it?
    pub(crate) fn can_read_channel_id(&self, user: Id, id: Id) -> bool {
        self.channels
            .get(&id)
            .is_some_and(|c| self.can_read_channel(user, c))
    }

    /// Ids of every channel the user can read (member channels plus open channels of her teams,
    /// incl. archived), sorted by id.
    pub fn visible_channels(&self, user_id: &str) -> Vec<String> {
        let uid = Id::lookup(user_id);
        self.channels
            .values()
            .filter(|c| self.can_read_channel(uid, c))
            .map(|c| c.id.to_string())
            .collect()
    }

    /// Ids of the channels the user is a member of, sorted by id.
    pub fn member_channels(&self, user_id: &str) -> Vec<String> {
        let uid = Id::lookup(user_id);
        self.channels
            .values()
            .filter(|c| c.members.contains_key(&uid))
            .map(|c| c.id.to_string())
            .collect()
    }

    /// Non-deleted, non-history posts of a channel, oldest first (by create_at, id).
    pub fn live_posts(&self, channel_id: &str) -> Vec<String> {
        self.channel(channel_id)
            .map(|c| c.live.iter().map(|(_, id)| id.to_string()).collect())
            .unwrap_or_default()
    }

    /// Number of non-deleted replies in the thread of `post` (`ReplyCount`).
    pub fn reply_count(&self, post: &Post) -> i64 {
        let root = if post.root_id.is_none() {
            post.id
        } else {
            post.root_id
        };
        self.replies
            .get(&root)
            .map(|r| {
                r.iter()
                    .filter(|id| self.posts.get(id).is_some_and(|p| p.delete_at == 0))
                    .count() as i64
            })
            .unwrap_or(0)
    }

    // ------------------------------------------------------------------ internal index helpers

    fn set_update_at(&mut self, post_id: Id, t: i64) {
        let Some(p) = self.posts.get_mut(&post_id) else {
            return;
        };
        let old = p.update_at;
        p.update_at = t;
        let ch = p.channel_id;
        if let Some(c) = self.channels.get_mut(&ch) {
            c.by_update.remove(&(old, post_id));
            c.by_update.insert((t, post_id));
        }
    }

    fn remove_live(&mut self, ch: Id, create_at: i64, id: Id) {
        if let Some(c) = self.channels.get_mut(&ch) {
            if let Ok(i) = c.live.binary_search(&(create_at, id)) {
                c.live.remove(i);
            }
        }
    }

    fn insert_row(&mut self, p: Post) {
        let c = self
            .channels
            .get_mut(&p.channel_id)
            .expect("post channel exists");
        c.by_update.insert((p.update_at, p.id));
        if p.delete_at == 0 && p.original_id.is_none() {
            let key = (p.create_at, p.id);
            match c.live.last() {
                Some(last) if *last > key => {
                    let i = c.live.partition_point(|k| *k < key);
                    c.live.insert(i, key);
                }
                _ => c.live.push(key),
            }
        }
        self.posts.insert(p.id, p);
    }

    // ------------------------------------------------------------------ mutations (explicit time)

    /// Creates a post at time `t` (SqlPostStore.Save semantics). Returns the post id.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn post_at(
        &mut self,
        t: i64,
        channel: Id,
        user: Id,
        message: &str,
        root: Id,
        post_type: &str,
        props: Map<String, Value>,
        files: &[(String, String, u64)],
    ) -> Id {
        let t = self.at(t);
        let id = self.new_id();
        let mut file_ids = Vec::new();
        for (name, mime, size) in files.iter().take(10) {
            let fid = self.new_id();
            let kind = Kind::from_mime(mime);
            let key = content::file_key(self.seed, fid);
            let size = content::fit_size(kind, key, *size);
            let (width, height) = content::image_dims(kind, key).unwrap_or((0, 0));
            let extension = name
                .rsplit_once('.')
                .map(|(_, e)| e.to_lowercase())
                .unwrap_or_default();
            self.files.insert(
                fid,
                FileInfo {
                    id: fid,
                    user_id: user,
                    post_id: id,
                    channel_id: channel,
                    create_at: t,
                    update_at: t,
                    delete_at: 0,
                    name: name.clone(),
                    extension,
                    size,
                    mime_type: mime.clone(),
                    width,
                    height,
                    kind,
                },
            );
            file_ids.push(fid);
        }
        let post = Post {
            id,
            create_at: t,
            update_at: t,
            edit_at: 0,
            delete_at: 0,
            is_pinned: false,
            user_id: user,
            channel_id: channel,
            root_id: root,
            original_id: Id::NONE,
            message: message.to_string(),
            post_type: post_type.to_string(),
            props,
            file_ids,
            has_reactions: false,
        };
        self.insert_row(post);
        if !root.is_none() {
            self.replies.entry(root).or_default().push(id);
            let root_upd = self.posts.get(&root).map(|r| r.update_at).unwrap_or(t);
            if root_upd < t {
                self.set_update_at(root, t);
            }
        }
        let c = self.channels.get_mut(&channel).expect("channel exists");
        c.last_post_at = c.last_post_at.max(t);
        if root.is_none() {
            c.last_root_post_at = c.last_root_post_at.max(t);
        }
        if !is_join_leave(post_type) {
            c.total_msg_count += 1;
            if root.is_none() {
                c.total_msg_count_root += 1;
            }
        }
        id
    }

    /// SqlPostStore.Update: inserts the old version as a history row, then applies `change`.
    fn update_post_at(
        &mut self,
        t: i64,
        post_id: Id,
        change: impl FnOnce(&mut Post),
    ) -> Result<Id, String> {
        let t = self.at(t);
        let old = match self.posts.get(&post_id) {
            Some(p) if p.delete_at == 0 && p.original_id.is_none() => p.clone(),
            _ => return Err(format!("no live post {post_id}")),
        };
        let hid = self.new_id();
        let mut hist = old.clone();
        hist.id = hid;
        hist.original_id = post_id;
        hist.delete_at = t;
        hist.update_at = t;
        self.insert_row(hist);
        self.history.entry(post_id).or_default().push(hid);
        if let Some(p) = self.posts.get_mut(&post_id) {
            change(p);
        }
        self.set_update_at(post_id, t);
        if !old.root_id.is_none() {
            self.set_update_at(old.root_id, t);
        }
        if let Some(c) = self.channels.get_mut(&old.channel_id) {
            c.last_post_at = c.last_post_at.max(t);
        }
        Ok(post_id)
    }

    pub(crate) fn edit_post_at(&mut self, t: i64, post_id: Id, msg: &str) -> Result<Id, String> {
        let msg = msg.to_string();
        self.update_post_at(t, post_id, move |p| {
            p.message = msg;
            p.edit_at = t;
        })
    }

    pub(crate) fn pin_at(&mut self, t: i64, post_id: Id, pinned: bool) -> Result<Id, String> {
        self.update_post_at(t, post_id, move |p| p.is_pinned = pinned)
    }

    /// SqlPostStore.Delete: `WHERE Id = ? OR RootId = ?` (replies and their history rows too).
    pub(crate) fn delete_post_at(&mut self, t: i64, post_id: Id, by: Id) -> Result<Id, String> {
        let t = self.at(t);
        let p = match self.posts.get(&post_id) {
            Some(p) if p.delete_at == 0 && p.original_id.is_none() => p.clone(),
            _ => return Err(format!("no live post {post_id}")),
        };
        let mut affected = vec![post_id];
        if p.root_id.is_none() {
            for r in self.replies.get(&post_id).cloned().unwrap_or_default() {
                affected.push(r);
                affected.extend(self.history.get(&r).cloned().unwrap_or_default());
            }
        }
        for id in affected {
            let Some(q) = self.posts.get_mut(&id) else {
                continue;
            };
            let was_live = q.delete_at == 0 && q.original_id.is_none();
            q.delete_at = t;
            q.props
                .insert("deleteBy".into(), Value::String(by.to_string()));
            let (ch, ca) = (q.channel_id, q.create_at);
            self.set_update_at(id, t);
            if was_live {
                self.remove_live(ch, ca, id);
            }
        }
        for f in &p.file_ids {
            if let Some(fi) = self.files.get_mut(f) {
                fi.delete_at = t;
                fi.update_at = t;
            }
        }
        Ok(post_id)
    }

    pub(crate) fn react_at(
        &mut self,
        t: i64,
        post_id: Id,
        user: Id,
        emoji: &str,
        add: bool,
    ) -> Result<Id, String> {
        let t = self.at(t);
        let ch = match self.posts.get(&post_id) {
            Some(p) if p.delete_at == 0 => p.channel_id,
            _ => return Err(format!("no live post {post_id}")),
        };
        let list = self.reactions.entry(post_id).or_default();
        let pos = list
            .iter()
            .position(|r| r.user_id == user && r.emoji_name == emoji);
        if add {
            match pos {
                Some(i) => list[i].update_at = t,
                None => list.push(Reaction {
                    user_id: user,
                    post_id,
                    emoji_name: emoji.to_string(),
                    create_at: t,
                    update_at: t,
                    channel_id: ch,
                }),
            }
        } else {
            match pos {
                Some(i) => {
                    list.remove(i);
                }
                None => return Err("no such reaction".into()),
            }
        }
        let has = !list.is_empty();
        if let Some(p) = self.posts.get_mut(&post_id) {
            p.has_reactions = has;
        }
        self.set_update_at(post_id, t);
        Ok(post_id)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn channel_at(
        &mut self,
        t: i64,
        team: Id,
        channel_type: char,
        name: &str,
        display_name: &str,
        creator: Id,
        members: &[Id],
    ) -> Id {
        let t = self.at(t);
        let id = self.new_id();
        let mut sorted: Vec<Id> = members.to_vec();
        sorted.sort();
        sorted.dedup();
        let name = if !name.is_empty() {
            name.to_string()
        } else if channel_type == 'D' {
            let a = sorted.first().copied().unwrap_or(creator);
            let b = sorted.last().copied().unwrap_or(a);
            format!("{a}__{b}")
        } else {
            // GM names are a 40-hex hash in the real server.
            let mut h = String::new();
            for _ in 0..5 {
                h.push_str(&format!("{:08x}", rand::RngCore::next_u32(&mut self.rng)));
            }
            h
        };
        let display_name = if !display_name.is_empty() || channel_type == 'D' {
            display_name.to_string()
        } else if channel_type == 'G' {
            let mut names: Vec<&str> = sorted
                .iter()
                .filter_map(|u| self.users.get(u).map(|u| u.username.as_str()))
                .collect();
            names.sort();
            names.join(", ")
        } else {
            name.clone()
        };
        let mut ch = Channel {
            id,
            team_id: if matches!(channel_type, 'D' | 'G') {
                Id::NONE
            } else {
                team
            },
            channel_type,
            name,
            display_name,
            header: String::new(),
            purpose: String::new(),
            create_at: t,
            update_at: t,
            delete_at: 0,
            last_post_at: t,
            last_root_post_at: t,
            total_msg_count: 0,
            total_msg_count_root: 0,
            creator_id: if matches!(channel_type, 'D') {
                Id::NONE
            } else {
                creator
            },
            members: BTreeMap::new(),
            live: Vec::new(),
            by_update: BTreeSet::new(),
        };
        for (i, u) in sorted.iter().enumerate() {
            let admin = *u == creator || (i == 0 && creator.is_none());
            ch.members.insert(*u, new_channel_member(*u, t, admin));
        }
        self.channels.insert(id, ch);
        id
    }

    // ------------------------------------------------------------------ public mutations

    fn uid(&self, user_id: &str) -> Result<Id, String> {
        let id = Id::lookup(user_id);
        if self.users.contains_key(&id) {
            return Ok(id);
        }
        self.user_by_name(user_id)
            .map(|u| u.id)
            .ok_or_else(|| format!("unknown user {user_id}"))
    }

    /// The channel, author and root (`Id::NONE` for none) of a new post, checked: the root must
    /// be a root post of the same channel (and live, with `live_root`).
    fn new_post_parts(
        &self,
        channel_id: &str,
        user_id: &str,
        root_id: Option<&str>,
        live_root: bool,
    ) -> Result<(Id, Id, Id), String> {
        let ch = Id::lookup(channel_id);
        if !self.channels.contains_key(&ch) {
            return Err(format!("unknown channel {channel_id}"));
        }
        let user = self.uid(user_id)?;
        let root = match root_id {
            Some(r) if !r.is_empty() => {
                let rid = Id::lookup(r);
                match self.posts.get(&rid) {
                    Some(p)
                        if p.channel_id == ch
                            && p.root_id.is_none()
                            && (p.delete_at == 0 || !live_root) =>
                    {
                        rid
                    }
                    _ => return Err(format!("bad root {r}")),
                }
            }
            _ => Id::NONE,
        };
        Ok((ch, user, root))
    }

    /// Creates a post (or a reply when `root_id` is given) now. `files` are (name, mime, size);
    /// sizes of images are raised to the smallest valid image size if needed.
    /// `user_id` may also be a username.
    pub fn add_post(
        &mut self,
        channel_id: &str,
        user_id: &str,
        message: &str,
        root_id: Option<&str>,
        files: Vec<(String, String, u64)>,
    ) -> Result<String, String> {
        let (ch, user, root) = self.new_post_parts(channel_id, user_id, root_id, true)?;
        let t = self.tick();
        Ok(self
            .post_at(t, ch, user, message, root, "", Map::new(), &files)
            .to_string())
    }

    /// Adds a post with an explicit, older `create_at`, as bulk import (`mmctl import`,
    /// `SqlPostStore.SaveMultiple`), an admin's `POST /posts` with `create_at` or shared-channel
    /// sync do: `Post.PreSave` keeps the given `create_at` and sets `update_at = create_at`,
    /// so the post never appears in a `since` answer of a later cursor. `SaveMultiple` adds
    /// to the channel's `total_msg_count` (and `total_msg_count_root`); `last_post_at` only
    /// moves forward (`GREATEST`); a root's `update_at` is not moved back by an older reply.
    pub fn import_post(
        &mut self,
        channel_id: &str,
        user_id: &str,
        message: &str,
        root_id: Option<&str>,
        create_at: i64,
    ) -> Result<String, String> {
        // An import may answer a root deleted since.
        let (ch, user, root) = self.new_post_parts(channel_id, user_id, root_id, false)?;
        Ok(self
            .post_at(create_at, ch, user, message, root, "", Map::new(), &[])
            .to_string())
    }

    /// Edits the message (history row + edit_at), bumping update_at, root and last_post_at.
    pub fn edit_post(&mut self, post_id: &str, new_message: &str) -> Result<String, String> {
        let t = self.tick();
        self.edit_post_at(t, Id::lookup(post_id), new_message)
            .map(|i| i.to_string())
    }

    /// Deletes a post (a root also deletes its replies); files of the post are soft-deleted.
    pub fn delete_post(&mut self, post_id: &str) -> Result<String, String> {
        let id = Id::lookup(post_id);
        let by = self.posts.get(&id).map(|p| p.user_id).unwrap_or(Id::NONE);
        let t = self.tick();
        self.delete_post_at(t, id, by).map(|i| i.to_string())
    }

    /// Pins/unpins (an UpdatePost: history row, update_at, but no edit_at change).
    pub fn set_pinned(&mut self, post_id: &str, pinned: bool) -> Result<String, String> {
        let t = self.tick();
        self.pin_at(t, Id::lookup(post_id), pinned)
            .map(|i| i.to_string())
    }

    pub fn add_reaction(
        &mut self,
        post_id: &str,
        user_id: &str,
        emoji_name: &str,
    ) -> Result<String, String> {
        self.react(post_id, user_id, emoji_name, true)
    }

    pub fn remove_reaction(
        &mut self,
        post_id: &str,
        user_id: &str,
        emoji_name: &str,
    ) -> Result<String, String> {
        self.react(post_id, user_id, emoji_name, false)
    }

    /// Adds (`add`) or removes a reaction now, resolving `user_id` as an id or a username.
    fn react(
        &mut self,
        post_id: &str,
        user_id: &str,
        emoji_name: &str,
        add: bool,
    ) -> Result<String, String> {
        let u = self.uid(user_id)?;
        let t = self.tick();
        self.react_at(t, Id::lookup(post_id), u, emoji_name, add)
            .map(|i| i.to_string())
    }

    /// Creates a channel. `team_id` is ignored for 'D'/'G'; empty `name`/`display_name` for D/G
    /// are computed like the real server. Members may be ids or usernames; the first is creator.
    pub fn add_channel(
        &mut self,
        team_id: &str,
        channel_type: char,
        name: &str,
        display_name: &str,
        members: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<String, String> {
        if !matches!(channel_type, 'O' | 'P' | 'D' | 'G') {
            return Err("type must be O, P, D or G".into());
        }
        let team = Id::lookup(team_id);
        if matches!(channel_type, 'O' | 'P') && !self.teams.contains_key(&team) {
            return Err(format!("unknown team {team_id}"));
        }
        let ids = members
            .into_iter()
            .map(|m| self.uid(m.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        let creator = ids.first().copied().unwrap_or(Id::NONE);
        let t = self.tick();
        Ok(self
            .channel_at(t, team, channel_type, name, display_name, creator, &ids)
            .to_string())
    }

    /// Archives a channel (delete_at = update_at = now).
    /// Archives a channel. A team's `town-square` cannot be archived (`App.DeleteChannel`:
    /// `api.channel.delete_channel.cannot.app_error`), so team joins always post there.
    pub fn archive_channel(&mut self, channel_id: &str) -> Result<String, String> {
        let t = self.tick();
        let c = self
            .channels
            .get_mut(&Id::lookup(channel_id))
            .ok_or("unknown channel")?;
        if c.name == "town-square" && matches!(c.channel_type, 'O' | 'P') {
            return Err("api.channel.delete_channel.cannot.app_error: town-square".into());
        }
        c.delete_at = t;
        c.update_at = t;
        Ok(c.id.to_string())
    }

    /// Adds a member; for O/P channels also posts a `system_join_channel` message like the real
    /// server. Returns the channel id.
    pub fn add_channel_member(
        &mut self,
        channel_id: &str,
        user_id: &str,
    ) -> Result<String, String> {
        let u = self.uid(user_id)?;
        let ch = Id::lookup(channel_id);
        let t = self.tick();
        let c = self.channels.get_mut(&ch).ok_or("unknown channel")?;
        c.members.insert(u, new_channel_member(u, t, false));
        if matches!(c.channel_type, 'O' | 'P') {
            self.membership_post_at(t, ch, u, true);
        }
        Ok(ch.to_string())
    }

    /// A user joins a team as `JoinUserToTeam` does it: a team member, then
    /// `JoinDefaultChannels`: member of `town-square` with a `system_join_team` post there
    /// (`postJoinTeamMessage`) and of `off-topic` with a `system_join_channel` post. Returns
    /// the team id.
    pub fn join_team(&mut self, team_id: &str, user_id: &str) -> Result<String, String> {
        let tid = self.add_team_member(team_id, user_id)?;
        let u = self.uid(user_id)?;
        let team = Id::lookup(&tid);
        let default = |w: &World, name: &str| {
            (w.channels.values())
                .find(|c| c.team_id == team && c.name == name && c.delete_at == 0)
                .map(|c| c.id)
        };
        if let Some(ch) = default(self, "town-square") {
            let t = self.tick();
            if let Some(c) = self.channels.get_mut(&ch) {
                c.members.insert(u, new_channel_member(u, t, false));
            }
            let name = self.users[&u].username.clone();
            let mut props = Map::new();
            props.insert("username".into(), Value::String(name.clone()));
            self.post_at(
                t,
                ch,
                u,
                &format!("{name} joined the team."),
                Id::NONE,
                "system_join_team",
                props,
                &[],
            );
        }
        if let Some(ch) = default(self, "off-topic") {
            self.add_channel_member(ch.as_str(), user_id)?;
        }
        Ok(tid)
    }

    /// Removes a member; for O/P channels also posts a `system_leave_channel` message.
    pub fn remove_channel_member(
        &mut self,
        channel_id: &str,
        user_id: &str,
    ) -> Result<String, String> {
        let u = self.uid(user_id)?;
        let ch = Id::lookup(channel_id);
        let t = self.tick();
        let c = self.channels.get_mut(&ch).ok_or("unknown channel")?;
        c.members.remove(&u).ok_or("not a member")?;
        if matches!(c.channel_type, 'O' | 'P') {
            self.membership_post_at(t, ch, u, false);
        }
        Ok(ch.to_string())
    }

    /// The `system_join_channel` (`joined`) or `system_leave_channel` post of `user` in `ch`.
    pub(crate) fn membership_post_at(&mut self, t: i64, ch: Id, user: Id, joined: bool) -> Id {
        let name = self.users[&user].username.clone();
        let (verb, post_type) = if joined {
            ("joined", "system_join_channel")
        } else {
            ("left", "system_leave_channel")
        };
        let mut props = Map::new();
        props.insert("username".into(), Value::String(name.clone()));
        self.post_at(
            t,
            ch,
            user,
            &format!("{name} {verb} the channel."),
            Id::NONE,
            post_type,
            props,
            &[],
        )
    }

    pub(crate) fn user_at(&mut self, t: i64, username: &str, password: &str) -> Id {
        let t = self.at(t);
        let id = self.new_id();
        let mut first = username.to_string();
        if let Some(c) = first.get_mut(0..1) {
            c.make_ascii_uppercase();
        }
        self.users.insert(
            id,
            User {
                id,
                username: username.to_string(),
                email: format!("{username}@example.com"),
                password: password.to_string(),
                first_name: first,
                last_name: "Example".into(),
                nickname: String::new(),
                position: String::new(),
                roles: "system_user".into(),
                create_at: t,
                update_at: t,
                delete_at: 0,
                last_password_update: t,
                last_picture_update: 0,
                mfa_secret: String::new(),
            },
        );
        id
    }

    /// Activates MFA for `username` with the base32 TOTP secret `secret_b32` (see
    /// [`crate::totp`]); from now on a login needs the current code in the `token` field.
    pub fn enable_mfa(&mut self, username: &str, secret_b32: &str) -> Result<(), String> {
        let id = self
            .user_by_name(username)
            .ok_or_else(|| format!("no user {username}"))?
            .id;
        let u = self.users.get_mut(&id).expect("just found");
        u.mfa_secret = secret_b32.to_string();
        Ok(())
    }

    /// Creates a user (email `<username>@example.com`, no teams). Returns the user id.
    pub fn add_user(&mut self, username: &str, password: &str) -> Result<String, String> {
        if self.user_by_name(username).is_some() {
            return Err(format!("username {username} taken"));
        }
        let t = self.tick();
        Ok(self.user_at(t, username, password).to_string())
    }

    /// Adds an open team without an icon whose first member (a user id or username) is its
    /// admin. Returns the team id.
    pub fn add_team(
        &mut self,
        name: &str,
        display_name: &str,
        members: &[&str],
    ) -> Result<String, String> {
        if self.teams.values().any(|t| t.name == name) {
            return Err(format!("team name {name} taken"));
        }
        let ids = (members.iter())
            .map(|m| self.uid(m))
            .collect::<Result<Vec<Id>, _>>()?;
        let t = self.tick();
        Ok(crate::generate::team_at(self, t, name, display_name, false, &ids).to_string())
    }

    /// Adds (or re-activates) a team membership. Returns the team id.
    pub fn add_team_member(&mut self, team_id: &str, user_id: &str) -> Result<String, String> {
        let u = self.uid(user_id)?;
        let t = self.tick();
        let team = self
            .teams
            .get_mut(&Id::lookup(team_id))
            .ok_or("unknown team")?;
        team.members.insert(
            u,
            TeamMember {
                user_id: u,
                roles: "team_user".into(),
                delete_at: 0,
                create_at: t,
            },
        );
        Ok(team.id.to_string())
    }

    /// Marks a team membership as left (delete_at = now). Returns the team id.
    pub fn remove_team_member(&mut self, team_id: &str, user_id: &str) -> Result<String, String> {
        let u = self.uid(user_id)?;
        let t = self.tick();
        let team = self
            .teams
            .get_mut(&Id::lookup(team_id))
            .ok_or("unknown team")?;
        team.members.get_mut(&u).ok_or("not a member")?.delete_at = t;
        Ok(team.id.to_string())
    }

    /// Deactivates a user (delete_at = update_at = now) and revokes her sessions.
    pub fn deactivate_user(&mut self, user_id: &str) -> Result<String, String> {
        let u = self.uid(user_id)?;
        let t = self.tick();
        let user = self.users.get_mut(&u).ok_or("unknown user")?;
        user.delete_at = t;
        user.update_at = t;
        self.sessions.retain(|_, v| *v != u);
        Ok(u.to_string())
    }

    /// "Uploads" a new profile picture (bumps last_picture_update and update_at).
    pub fn set_profile_picture(&mut self, user_id: &str) -> Result<String, String> {
        let u = self.uid(user_id)?;
        let t = self.tick();
        let user = self.users.get_mut(&u).ok_or("unknown user")?;
        user.last_picture_update = t;
        user.update_at = t;
        Ok(u.to_string())
    }

    /// The user removes their profile picture (`App.SetDefaultProfileImage`): the generated
    /// default image is written to storage, then `SqlUserStore.ResetLastPictureUpdate` sets
    /// `last_picture_update` to 0 (omitted from the user JSON) and `update_at` to now. The
    /// image endpoint then serves the stored default image with ETag `0`.
    pub fn remove_profile_picture(&mut self, user_id: &str) -> Result<String, String> {
        let u = self.uid(user_id)?;
        let t = self.tick();
        let user = self.users.get_mut(&u).ok_or("unknown user")?;
        user.last_picture_update = 0;
        user.update_at = t;
        self.default_picture_written.insert(u);
        Ok(u.to_string())
    }

    pub(crate) fn emoji_at(&mut self, t: i64, name: &str, creator: Id, kind: Kind) -> Id {
        let t = self.at(t);
        let id = self.new_id();
        self.emojis.insert(
            id,
            Emoji {
                id,
                creator_id: creator,
                name: name.to_string(),
                create_at: t,
                update_at: t,
                delete_at: 0,
                kind,
            },
        );
        id
    }

    /// Adds a custom emoji (PNG image). Returns its id.
    pub fn add_emoji(&mut self, name: &str, creator: &str) -> Result<String, String> {
        let c = self.uid(creator)?;
        if self.emoji_by_name(name).is_some() {
            return Err(format!("emoji {name} exists"));
        }
        let t = self.tick();
        Ok(self.emoji_at(t, name, c, Kind::Png).to_string())
    }

    /// Soft-deletes a custom emoji.
    pub fn delete_emoji(&mut self, emoji_id: &str) -> Result<String, String> {
        let t = self.tick();
        let e = self
            .emojis
            .get_mut(&Id::lookup(emoji_id))
            .ok_or("unknown emoji")?;
        e.delete_at = t;
        e.update_at = t;
        Ok(e.id.to_string())
    }

    /// Sets a (new) team icon: last_team_icon_update = update_at = now.
    pub fn set_team_icon(&mut self, team_id: &str) -> Result<String, String> {
        let t = self.tick();
        let team = self
            .teams
            .get_mut(&Id::lookup(team_id))
            .ok_or("unknown team")?;
        team.last_team_icon_update = t;
        team.update_at = t;
        Ok(team.id.to_string())
    }

    /// Replaces the configuration.
    pub fn set_config(&mut self, config: Config) {
        let offset = config.clock_offset_ms;
        self.config = config;
        self.set_clock_offset(offset);
    }

    /// Creates a session token for the user (what login does). Returns the token.
    pub fn create_session(&mut self, user_id: &str) -> Result<String, String> {
        let u = self.uid(user_id)?;
        let token = self.new_id().to_string();
        self.sessions.insert(token.clone(), u);
        Ok(token)
    }

    /// The user id a token (session or personal access token) belongs to, if valid and active.
    pub fn user_for_token(&self, token: &str) -> Option<Id> {
        let u = self
            .sessions
            .get(token)
            .or_else(|| self.access_tokens.get(token))?;
        self.users
            .get(u)
            .filter(|user| user.delete_at == 0)
            .map(|user| user.id)
    }
}

pub(crate) fn new_channel_member(user: Id, t: i64, admin: bool) -> ChannelMember {
    ChannelMember {
        user_id: user,
        roles: if admin {
            "channel_user channel_admin".into()
        } else {
            "channel_user".into()
        },
        last_viewed_at: t,
        msg_count: 0,
        msg_count_root: 0,
        last_update_at: t,
        scheme_admin: admin,
    }
}
