//! Names from the server cannot escape the data dir or make invalid file names.

use fakemm::Scale;

use crate::oracle::{assert_matches, everything, want_all};
use crate::util::{alice, tree, Env};

#[test]
fn hostile_names_stay_inside_the_data_dir() {
    let env = Env::new(Scale::Tiny);
    let me = alice(&env);
    env.server.with_world(|w| {
        let (_, t) = everything(w, &me);
        let con = w.add_user("con", "x").unwrap();
        w.add_team_member(&t[0], &con).unwrap();
        let evil = w
            .add_channel(
                &t[0],
                'O',
                "../../evil",
                "Evil",
                vec![me.clone(), con.clone()],
            )
            .unwrap();
        w.add_post(
            &evil,
            &con,
            "look",
            None,
            vec![
                ("../../../escape.txt".into(), "text/plain".into(), 10),
                ("a/b\\c:d*?<>|\".txt".into(), "text/plain".into(), 11),
                ("..".into(), "application/octet-stream".into(), 12),
                (
                    format!("{}.pdf", "x".repeat(600)),
                    "application/pdf".into(),
                    13,
                ),
            ],
        )
        .unwrap();
    });
    env.run_ok(&[]);

    // Nothing outside the data dir but what the test itself put there.
    let mut outside: Vec<String> = tree(env.tmp.path())
        .into_keys()
        .filter(|k| !k.starts_with("data/"))
        .collect();
    outside.sort();
    assert_eq!(outside, ["channels.json", "credentials.json", "out.zip"]);
    let files = tree(&env.data());
    assert!(
        files.keys().any(|k| k.contains("__.._.._evil/")),
        "{:?}",
        files
            .keys()
            .filter(|k| k.contains("evil"))
            .collect::<Vec<_>>()
    );
    assert!(files.keys().any(|k| k.ends_with("__.._.._.._escape.txt")));
    assert!(files.keys().any(|k| k.ends_with("__a_b_c_d______.txt")));
    assert!(files
        .keys()
        .any(|k| k.starts_with("users/") && k.ends_with("___con.json")));
    assert!(files
        .keys()
        .all(|k| k.rsplit('/').next().unwrap().len() <= 255));
    // And the content is still exactly the server's.
    assert_matches(&env.data(), &want_all(&env));
}
