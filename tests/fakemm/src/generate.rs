//! Deterministic sample data sets (`World::generate`) and `sample_channels_json`.

use crate::content::Kind;
use crate::id::Id;
use crate::world::{Team, TeamMember, World};
use rand::Rng;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Size of the generated data set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    Tiny,
    Demo,
    Large,
}

impl std::str::FromStr for Scale {
    type Err = String;
    fn from_str(s: &str) -> Result<Scale, String> {
        match s.to_ascii_lowercase().as_str() {
            "tiny" => Ok(Scale::Tiny),
            "demo" => Ok(Scale::Demo),
            "large" => Ok(Scale::Large),
            _ => Err(format!("unknown scale {s} (tiny|demo|large)")),
        }
    }
}

/// Start of the generated timeline (2024-01-01T00:00:00Z).
pub const BASE_MS: i64 = 1_704_067_200_000;
const DAY: i64 = 86_400_000;

const DEMO_USERS: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "trent",
];
const WORDS: &[&str] = &[
    "backup", "deploy", "release", "coffee", "meeting", "review", "ticket", "bug", "feature",
    "docs", "lunch", "server", "client", "test", "merge", "branch", "design", "plan", "today",
    "tomorrow", "great", "thanks", "please", "check", "update", "numbers", "report", "idea",
];
const FILE_TYPES: &[(&str, &str)] = &[
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("gif", "image/gif"),
    ("pdf", "application/pdf"),
    ("txt", "text/plain"),
    ("zip", "application/zip"),
];

struct ChanSpec {
    team: &'static str,
    ty: char,
    name: &'static str,
    display: &'static str,
    /// Usernames; "*" = every active team member.
    members: &'static [&'static str],
    demo_posts: usize,
    archived: bool,
    demo_only: bool,
}

const fn ch(
    team: &'static str,
    ty: char,
    name: &'static str,
    display: &'static str,
    members: &'static [&'static str],
    demo_posts: usize,
) -> ChanSpec {
    ChanSpec {
        team,
        ty,
        name,
        display,
        members,
        demo_posts,
        archived: false,
        demo_only: false,
    }
}

const ALL: &[&str] = &["*"];

fn channel_specs() -> Vec<ChanSpec> {
    let mut v = vec![
        ch("acme", 'O', "town-square", "Town Square", ALL, 300),
        ch(
            "acme",
            'O',
            "off-topic",
            "Off-Topic",
            &["alice", "bob", "carol", "dave", "frank", "heidi"],
            250,
        ),
        ch(
            "acme",
            'O',
            "engineering",
            "Engineering",
            &["alice", "bob", "carol", "dave", "heidi", "ivan", "judy"],
            600,
        ),
        ch(
            "acme",
            'P',
            "leadership",
            "Leadership",
            &["alice", "bob", "carol"],
            150,
        ),
        ChanSpec {
            archived: true,
            ..ch(
                "acme",
                'O',
                "old-announcements",
                "Old Announcements",
                &["alice", "bob", "dave"],
                80,
            )
        },
        ChanSpec {
            archived: true,
            ..ch(
                "acme",
                'P',
                "old-secrets",
                "Old Secrets",
                &["alice", "carol"],
                40,
            )
        },
        ch(
            "acme",
            'O',
            "sales",
            "Sales",
            &["bob", "carol", "dave"],
            100,
        ),
        ch(
            "acme",
            'P',
            "hr-private",
            "HR Private",
            &["bob", "dave"],
            60,
        ),
        ch(
            "acme",
            'O',
            "quiet-corner",
            "Quiet Corner",
            &["alice", "bob"],
            0,
        ),
    ];
    for (team, extra) in [("beta", true), ("gamma", true)] {
        let _ = extra;
        if team == "beta" {
            v.push(ChanSpec {
                demo_only: true,
                ..ch("beta", 'O', "town-square", "Town Square", ALL, 250)
            });
            v.push(ChanSpec {
                demo_only: true,
                ..ch("beta", 'O', "off-topic", "Off-Topic", ALL, 150)
            });
            v.push(ChanSpec {
                demo_only: true,
                ..ch(
                    "beta",
                    'O',
                    "design",
                    "Design",
                    &["alice", "carol", "olivia", "peggy"],
                    250,
                )
            });
            v.push(ChanSpec {
                demo_only: true,
                ..ch(
                    "beta",
                    'P',
                    "beta-private",
                    "Beta Private",
                    &["alice", "bob", "niaj"],
                    100,
                )
            });
        } else {
            v.push(ChanSpec {
                demo_only: true,
                ..ch("gamma", 'O', "town-square", "Town Square", ALL, 150)
            });
            v.push(ChanSpec {
                demo_only: true,
                ..ch("gamma", 'O', "random", "Random", ALL, 150)
            });
        }
    }
    v.push(ch("", 'D', "", "", &["alice"], 20));
    v.push(ch("", 'D', "", "", &["alice", "bob"], 120));
    v.push(ch("", 'D', "", "", &["alice", "carol"], 60));
    v.push(ch("", 'D', "", "", &["alice", "erin"], 30));
    v.push(ch("", 'D', "", "", &["bob", "carol"], 40));
    v.push(ChanSpec {
        demo_only: true,
        ..ch("", 'D', "", "", &["alice", "heidi"], 30)
    });
    v.push(ch("", 'G', "", "", &["alice", "bob", "carol"], 60));
    v.push(ChanSpec {
        demo_only: true,
        ..ch("", 'G', "", "", &["alice", "carol", "dave", "frank"], 40)
    });
    v
}

struct Gen<'a> {
    w: &'a mut World,
    scale: Scale,
    file_prob: f64,
    file_range: (f64, f64),
    file_seq: usize,
}

impl Gen<'_> {
    fn uid(&self, name: &str) -> Id {
        self.w.user_by_name(name).expect("user exists").id
    }

    /// Marks `user`'s membership of `team` as ended at `at`.
    fn leave_team(&mut self, team: &str, user: &str, at: i64) {
        let team = self.w.team_by_name(team).expect("team exists").id;
        let user = self.uid(user);
        if let Some(m) = self
            .w
            .teams
            .get_mut(&team)
            .and_then(|t| t.members.get_mut(&user))
        {
            m.delete_at = at;
        }
    }

    fn sentence(&mut self) -> String {
        let n = self.w.rng.random_range(3..12);
        let mut s = String::new();
        for i in 0..n {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(WORDS[self.w.rng.random_range(0..WORDS.len())]);
        }
        if let Some(c) = s.get_mut(0..1) {
            c.make_ascii_uppercase();
        }
        s.push('.');
        s
    }

    fn random_files(&mut self) -> Vec<(String, String, u64)> {
        if !self.w.rng.random_bool(self.file_prob) {
            return vec![];
        }
        let n = if self.w.rng.random_bool(0.2) { 2 } else { 1 };
        (0..n)
            .map(|_| {
                let (ext, mime) = FILE_TYPES[self.file_seq % FILE_TYPES.len()];
                self.file_seq += 1;
                let (lo, hi) = self.file_range;
                let u: f64 = self.w.rng.random();
                let size = (lo.ln() + u * (hi.ln() - lo.ln())).exp() as u64;
                let word = WORDS[self.w.rng.random_range(0..WORDS.len())];
                (
                    format!("{word}-{}.{ext}", self.file_seq),
                    mime.to_string(),
                    size,
                )
            })
            .collect()
    }

    fn scaled(&self, demo: usize, name: &str) -> usize {
        match self.scale {
            Scale::Demo => demo,
            Scale::Large => demo * 50,
            Scale::Tiny if name == "engineering" => 30,
            Scale::Tiny if demo == 0 => 0,
            Scale::Tiny => (demo / 25).max(3),
        }
    }
}

pub(crate) fn team_at(
    w: &mut World,
    t: i64,
    name: &str,
    display: &str,
    icon: bool,
    members: &[Id],
) -> Id {
    let id = w.new_id();
    let invite = w.new_id();
    let mut team = Team {
        id,
        name: name.into(),
        display_name: display.into(),
        description: format!("The {display} team"),
        team_type: 'O',
        create_at: t,
        update_at: t,
        delete_at: 0,
        email: format!("admin@{name}.example.com"),
        invite_id: invite,
        allow_open_invite: false,
        last_team_icon_update: if icon { t + 1000 } else { 0 },
        members: BTreeMap::new(),
    };
    if icon {
        team.update_at = t + 1000;
    }
    for (i, u) in members.iter().enumerate() {
        team.members.insert(
            *u,
            TeamMember {
                user_id: *u,
                roles: if i == 0 {
                    "team_user team_admin".into()
                } else {
                    "team_user".into()
                },
                delete_at: 0,
                create_at: t,
            },
        );
    }
    w.teams.insert(id, team);
    id
}

impl World {
    /// Builds a deterministic sample world for `seed` and `scale` (see README for contents).
    pub fn generate(seed: u64, scale: Scale) -> World {
        let mut w = World::empty(seed);
        let total_demo = 3030.0;
        let (file_target, file_range) = match scale {
            Scale::Tiny => (4.0, (1_000.0, 20_000.0)),
            Scale::Demo => (52.0, (1_000.0, 1_000_000.0)),
            Scale::Large => (2000.0, (1_000.0, 2_000_000.0)),
        };
        let total: f64 = match scale {
            Scale::Tiny => 200.0,
            Scale::Demo => total_demo,
            Scale::Large => total_demo * 50.0,
        };
        let mut g = Gen {
            w: &mut w,
            scale,
            // A post with files has 1.2 on average (a fifth have two).
            file_prob: (file_target / total / if scale == Scale::Large { 1.2 } else { 1.0 })
                .min(1.0_f64),
            file_range,
            file_seq: 0,
        };

        // ---- users
        let mut names: Vec<String> = match scale {
            Scale::Tiny => DEMO_USERS[..7].iter().map(|s| s.to_string()).collect(),
            _ => DEMO_USERS.iter().map(|s| s.to_string()).collect(),
        };
        if scale == Scale::Large {
            names.extend((DEMO_USERS.len() + 1..=200).map(|i| format!("user{i:03}")));
        }
        let t0 = BASE_MS - 30 * DAY;
        for (i, n) in names.iter().enumerate() {
            g.w.user_at(t0 + i as i64 * 1000, n, &format!("{n}-password"));
        }
        let alice = g.uid("alice");
        g.w.access_tokens
            .insert("alicepersonalaccesstoken0000".into(), alice);
        for (i, n) in ["alice", "bob", "heidi"].iter().enumerate() {
            if let Some(u) = g.w.user_by_name(n).map(|u| u.id) {
                let u = g.w.users.get_mut(&u).expect("user");
                u.last_picture_update = t0 + DAY + i as i64;
                u.update_at = u.last_picture_update;
            }
        }
        for (name, pos, nick) in [
            ("alice", "Backup Lead", "ali"),
            ("bob", "Engineer", ""),
            ("carol", "Designer", "caz"),
        ] {
            let id = g.uid(name);
            let u = g.w.users.get_mut(&id).expect("user");
            u.position = pos.into();
            u.nickname = nick.into();
        }
        let all_users: Vec<Id> = g.w.users.values().map(|u| u.id).collect();

        // ---- teams
        let t1 = BASE_MS - 29 * DAY;
        let mut acme_members = vec![alice];
        acme_members.extend(all_users.iter().filter(|u| **u != alice));
        team_at(g.w, t1, "acme", "Acme Corp", true, &acme_members);
        if scale != Scale::Tiny {
            team_at(g.w, t1 + 1, "beta", "Beta Team", false, &acme_members);
            let gamma_members: Vec<Id> = acme_members.iter().step_by(2).copied().collect();
            team_at(g.w, t1 + 2, "gamma", "Gamma Guild", true, &gamma_members);
        }
        // grace left acme; mallory left beta.
        g.leave_team("acme", "grace", t1 + DAY);
        if scale != Scale::Tiny {
            g.leave_team("beta", "mallory", t1 + DAY);
        }
        // erin is deactivated (after the channels are built, see below).

        // ---- emojis
        let t2 = BASE_MS - 28 * DAY;
        let mut emoji_names: Vec<(String, Kind)> = vec![
            ("partyparrot".into(), Kind::Gif),
            ("shipit".into(), Kind::Png),
        ];
        if scale != Scale::Tiny {
            emoji_names.extend([
                ("facepalm".into(), Kind::Png),
                ("lgtm".into(), Kind::Jpeg),
                ("coffee-time".into(), Kind::Png),
                ("rustacean".into(), Kind::Gif),
            ]);
        }
        if scale == Scale::Large {
            emoji_names.extend((7..=50).map(|i| {
                let k = [Kind::Png, Kind::Gif, Kind::Jpeg][i % 3];
                (format!("emoji{i:02}"), k)
            }));
        }
        for (i, (n, k)) in emoji_names.iter().enumerate() {
            let creator = all_users[i % all_users.len().min(5)];
            g.w.emoji_at(t2 + i as i64, n, creator, *k);
        }
        if scale != Scale::Tiny {
            let e = g.w.emoji_at(t2 + 100, "oldemoji", alice, Kind::Png);
            let em = g.w.emojis.get_mut(&e).expect("emoji");
            em.delete_at = t2 + DAY;
            em.update_at = t2 + DAY;
        }
        let custom: Vec<String> = emoji_names.iter().map(|(n, _)| n.clone()).collect();

        // ---- channels and bulk posts
        let specs: Vec<ChanSpec> = channel_specs()
            .into_iter()
            .filter(|s| scale != Scale::Tiny || !s.demo_only)
            .collect();
        let t3 = BASE_MS - 27 * DAY;
        let mut ops: Vec<(Id, bool)> = Vec::new(); // (post, deletable)
        let mut archived = Vec::new();
        for (ci, s) in specs.iter().enumerate() {
            let team = if s.team.is_empty() {
                Id::NONE
            } else {
                g.w.team_by_name(s.team).expect("team").id
            };
            let members: Vec<Id> = if s.members == ALL {
                g.w.teams[&team]
                    .members
                    .values()
                    .filter(|m| m.delete_at == 0)
                    .map(|m| m.user_id)
                    .collect()
            } else {
                s.members
                    .iter()
                    .filter_map(|n| g.w.user_by_name(n).map(|u| u.id))
                    .collect()
            };
            let creator = members[0];
            let tc = t3 + ci as i64 * 60_000;
            let chid =
                g.w.channel_at(tc, team, s.ty, s.name, s.display, creator, &members);
            if s.archived {
                archived.push(chid);
            }
            let n = g.scaled(s.demo_posts, s.name);
            if matches!(s.ty, 'O' | 'P') && n > 0 {
                for (k, u) in members.iter().enumerate() {
                    g.w.membership_post_at(tc + 1 + k as i64, chid, *u, true);
                }
            }
            // Timestamps: spread over ~40 days, non-decreasing, >= 1 s apart.
            let span = 40 * DAY;
            let step_max = (span / n.max(1) as i64).max(2_000) * 2;
            let mut times = Vec::with_capacity(n);
            let mut t = BASE_MS + g.w.rng.random_range(0..DAY);
            for _ in 0..n {
                t += g.w.rng.random_range(1_000..step_max);
                times.push(t);
            }
            let is_eng = s.name == "engineering";
            if is_eng && n > 210 {
                // Positions 195..=205 counted from the newest share one create_at.
                let c = times[n - 1 - 200];
                for tt in times.iter_mut().take(n - 1 - 195 + 1).skip(n - 1 - 205) {
                    *tt = c;
                }
            }
            let mut roots: Vec<Id> = Vec::new();
            for (k, t) in times.into_iter().enumerate() {
                let author = members[g.w.rng.random_range(0..members.len())];
                let reply = !roots.is_empty() && g.w.rng.random_bool(0.2);
                let root = if reply {
                    let back = g.w.rng.random_range(0..roots.len().min(10));
                    roots[roots.len() - 1 - back]
                } else {
                    Id::NONE
                };
                let msg = format!("{} (#{k})", g.sentence());
                let files = g.random_files();
                let id =
                    g.w.post_at(t, chid, author, &msg, root, "", Map::new(), &files);
                if !reply {
                    roots.push(id);
                }
                ops.push((id, !is_eng));
            }
        }

        // ---- phase 2: edits, deletions, pins, reactions on bulk posts
        let mut t = g.w.clock_last + 3_600_000;
        let reactions_std = ["+1", "smile", "tada", "heart", "eyes"];
        for (id, deletable) in ops {
            let roll: f64 = g.w.rng.random();
            let Some(p) = g.w.posts.get(&id) else {
                continue;
            };
            if p.delete_at != 0 {
                continue;
            }
            let ch = p.channel_id;
            t += g.w.rng.random_range(1_000..60_000);
            if roll < 0.02 {
                let m = format!("{} (edited)", g.w.posts[&id].message);
                let _ = g.w.edit_post_at(t, id, &m);
            } else if roll < 0.03 && deletable {
                let by = g.w.posts[&id].user_id;
                let _ = g.w.delete_post_at(t, id, by);
            } else if roll < 0.035 {
                let _ = g.w.pin_at(t, id, true);
            } else if roll < 0.085 {
                let members: Vec<Id> = g.w.channels[&ch].members.keys().copied().collect();
                let u = members[g.w.rng.random_range(0..members.len())];
                let e = if g.w.rng.random_bool(0.2) {
                    custom[g.w.rng.random_range(0..custom.len())].clone()
                } else {
                    reactions_std[g.w.rng.random_range(0..reactions_std.len())].to_string()
                };
                let _ = g.w.react_at(t, id, u, &e, true);
            }
        }

        // ---- phase 3: scripted, notable content in acme/off-topic
        let acme = g.w.team_by_name("acme").expect("acme").id;
        let off =
            g.w.channel_by_name(acme.as_str(), "off-topic")
                .expect("off-topic")
                .id;
        let [bob, carol, dave, frank] = ["bob", "carol", "dave", "frank"].map(|n| g.uid(n));
        let mut t = g.w.clock_last + 3_600_000;
        let mut next = |w: &World| {
            t = t.max(w.clock_last) + 60_000;
            t
        };
        let post = |w: &mut World, t: i64, u: Id, m: &str, root: Id| {
            w.post_at(t, off, u, m, root, "", Map::new(), &[])
        };
        let tt = next(g.w);
        let plan = post(
            g.w,
            tt,
            bob,
            "Let's plan the offsite :partyparrot:",
            Id::NONE,
        );
        for (u, m) in [
            (alice, "I'm in!"),
            (carol, "Me too"),
            (frank, "Count me in"),
        ] {
            let tt = next(g.w);
            post(g.w, tt, u, m, plan);
        }
        let tt = next(g.w);
        let oops = post(g.w, tt, dave, "Oops, wrong thread", plan);
        let tt = next(g.w);
        let _ = g.w.react_at(tt, plan, alice, "+1", true);
        let tt = next(g.w);
        let _ = g.w.react_at(tt, plan, bob, "partyparrot", true);
        let tt = next(g.w);
        let hello = post(g.w, tt, alice, "Hello wrld", Id::NONE);
        let tt = next(g.w);
        let _ = g.w.edit_post_at(tt, hello, "Hello world");
        let tt = next(g.w);
        let _ = g.w.edit_post_at(tt, hello, "Hello, world!");
        let tt = next(g.w);
        let typo = post(g.w, tt, bob, "Typo post by bbo", Id::NONE);
        let tt = next(g.w);
        let _ = g.w.edit_post_at(tt, typo, "Typo post by bob (fixed)");
        let tt = next(g.w);
        let doomed = g.w.post_at(
            tt,
            off,
            carol,
            "This thread will be deleted",
            Id::NONE,
            "",
            Map::new(),
            &[("to-be-deleted.txt".into(), "text/plain".into(), 2_000)],
        );
        for (u, m) in [(bob, "Why?"), (alice, "Because.")] {
            let tt = next(g.w);
            post(g.w, tt, u, m, doomed);
        }
        let tt = next(g.w);
        let _ = g.w.delete_post_at(tt, doomed, carol);
        let tt = next(g.w);
        let _ = g.w.delete_post_at(tt, oops, dave);
        let tt = next(g.w);
        let pin1 = post(g.w, tt, alice, "Remember: backups every night", Id::NONE);
        let tt = next(g.w);
        let pin2 = post(g.w, tt, bob, "Offsite agenda", Id::NONE);
        for p in [pin1, pin2] {
            let tt = next(g.w);
            let _ = g.w.pin_at(tt, p, true);
        }
        let small = scale == Scale::Tiny;
        let kb = |n: u64| if small { n.min(20) * 1024 } else { n * 1024 };
        let files: Vec<(String, String, u64)> = vec![
            (
                "Q3 report – Übersicht (final) v2.pdf".into(),
                "application/pdf".into(),
                kb(300),
            ),
            ("screenshot.png".into(), "image/png".into(), kb(40)),
            ("photo.jpg".into(), "image/jpeg".into(), kb(900)),
            ("animation.gif".into(), "image/gif".into(), kb(12)),
            ("notes.txt".into(), "text/plain".into(), 3_000),
            ("archive.zip".into(), "application/zip".into(), kb(600)),
        ];
        let tt = next(g.w);
        g.w.post_at(
            tt,
            off,
            alice,
            "Files for the report",
            Id::NONE,
            "",
            Map::new(),
            &files,
        );
        // Names a client must not mistake for its own files: JSON-named attachments with and
        // without JSON inside, HTML, no extension, and a name shaped like a members file.
        let odd: Vec<(String, String, u64)> = vec![
            ("config.json".into(), "application/json".into(), 1_500),
            (
                "payload.json".into(),
                "application/octet-stream".into(),
                2_000,
            ),
            ("index.html".into(), "text/html".into(), 2_500),
            ("Makefile".into(), "text/plain".into(), 800),
            ("notes__members.json".into(), "application/json".into(), 600),
        ];
        let tt = next(g.w);
        g.w.post_at(
            tt,
            off,
            carol,
            "Odd file names",
            Id::NONE,
            "",
            Map::new(),
            &odd,
        );
        if scale == Scale::Large {
            let tt = next(g.w);
            g.w.post_at(
                tt,
                off,
                bob,
                "The full export",
                Id::NONE,
                "",
                Map::new(),
                &[(
                    "big-archive.zip".into(),
                    "application/zip".into(),
                    200 * 1024 * 1024,
                )],
            );
        }
        // frank leaves off-topic (he authored posts there).
        let tt = next(g.w);
        g.w.channels
            .get_mut(&off)
            .expect("off")
            .members
            .remove(&frank);
        g.w.membership_post_at(tt, off, frank, false);
        // Archive the archived channels and deactivate erin.
        let tt = next(g.w);
        for c in archived {
            let ch = g.w.channels.get_mut(&c).expect("channel");
            ch.delete_at = tt;
            ch.update_at = tt;
        }
        let erin = g.uid("erin");
        let tt = next(g.w);
        let u = g.w.users.get_mut(&erin).expect("erin");
        u.delete_at = tt;
        u.update_at = tt;
        g.w.at(tt);
        if scale == Scale::Large {
            g.w.add_same_ms_channel("acme", "imports");
        }
        // Members have read everything.
        for c in g.w.channels.values_mut() {
            let (n, r) = (c.total_msg_count, c.total_msg_count_root);
            for m in c.members.values_mut() {
                m.msg_count = n;
                m.msg_count_root = r;
            }
        }
        w
    }

    /// Adds an open channel `name` to `team` (members alice and bob) whose posts come in runs
    /// that share one `create_at`, as imports with second-resolution timestamps make them:
    /// its first 30 posts share one millisecond, then 300 posts one second apart, then 450
    /// posts in one millisecond, then 300 more one second apart (1,080 posts). The real
    /// server's `before` query and `getPostIdAroundTime` compare `CreateAt <` strictly, so
    /// `before=<oldest id>` skips the rest of a run, and a page inside the first run gets
    /// `prev_post_id = ""` although posts remain. Returns the channel id.
    pub fn add_same_ms_channel(&mut self, team: &str, name: &str) -> Id {
        let team = self.team_by_name(team).expect("team").id;
        let members: Vec<Id> = ["alice", "bob"]
            .iter()
            .filter_map(|n| self.user_by_name(n).map(|u| u.id))
            .collect();
        let t0 = self.clock_last + 3_600_000;
        let ch = self.channel_at(t0, team, 'O', name, name, members[0], &members);
        let mut t = t0 + 60_000;
        let mut k = 0;
        let mut post = |w: &mut World, t: i64| {
            let u = members[k % members.len()];
            w.post_at(
                t,
                ch,
                u,
                &format!("imported #{k}"),
                Id::NONE,
                "",
                Map::new(),
                &[],
            );
            k += 1;
        };
        for _ in 0..30 {
            post(self, t);
        }
        for _ in 0..300 {
            t += 1_000;
            post(self, t);
        }
        t += 1_000;
        for _ in 0..450 {
            post(self, t);
        }
        for _ in 0..300 {
            t += 1_000;
            post(self, t);
        }
        ch
    }

    /// A matterbak channels.json selecting everything alice can see.
    pub fn sample_channels_json(&self) -> Value {
        let Some(alice) = self.user_by_name("alice").map(|u| u.id) else {
            return json!({});
        };
        let mut teams: Vec<&str> = self
            .teams
            .values()
            .filter(|t| self.is_team_member(t.id, alice))
            .map(|t| t.name.as_str())
            .collect();
        teams.sort();
        let mut direct: Vec<String> = Vec::new();
        let mut groups: Vec<Vec<String>> = Vec::new();
        for c in self.channels.values() {
            if !c.members.contains_key(&alice) {
                continue;
            }
            let others: Vec<String> = c
                .members
                .keys()
                .filter(|u| **u != alice)
                .filter_map(|u| self.users.get(u).map(|u| u.username.clone()))
                .collect();
            match c.channel_type {
                'D' => direct.push(others.first().cloned().unwrap_or_else(|| "alice".into())),
                'G' => {
                    let mut o = others;
                    o.sort();
                    groups.push(o);
                }
                _ => {}
            }
        }
        direct.sort();
        groups.sort();
        let teams: Map<String, Value> = teams.into_iter().map(|t| (t.into(), json!({}))).collect();
        json!({"teams": teams, "direct": direct, "groups": {"exact": groups, "subset": []}})
    }
}
