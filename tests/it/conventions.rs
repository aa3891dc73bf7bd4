//! The command-line conventions: shell completions and the man page
//! generate, every subcommand's `--help` carries examples, the top-level
//! help lists the exit codes, and `--version` names the package version
//! (with the commit when built from a checkout).

use clap::CommandFactory;
use fleetsim::cli::Cli;

use crate::support::{fleetsim, root, text};

#[test]
fn completions_generate_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = fleetsim(&root(), &["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        assert!(script.len() > 500, "{shell}: a short script:\n{script}");
        assert!(script.contains("fleetsim"), "{shell}:\n{script}");
        // Subcommands and their options are completed, not just the name.
        for word in ["sweep", "replications"] {
            assert!(script.contains(word), "{shell} lacks {word}");
        }
    }
    let out = fleetsim(&root(), &["completions", "tcsh"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

#[test]
fn the_man_page_documents_every_subcommand() {
    let out = fleetsim(&root(), &["man"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let page = text(&out.stdout);
    assert!(page.contains(".TH fleetsim 1"), "no title line:\n{page}");
    for sub in Cli::command().get_subcommands() {
        let name = sub.get_name();
        if name != "help" {
            let head = format!(".SH \"FLEETSIM {}\"", name.to_uppercase());
            assert!(page.contains(&head), "no section {head}");
        }
    }
    assert!(
        page.contains("Exit codes"),
        "the exit codes are in the page"
    );
}

#[test]
fn every_subcommand_help_has_examples() {
    let cmd = Cli::command();
    let subs: Vec<&str> = cmd.get_subcommands().map(clap::Command::get_name).collect();
    assert!(
        subs.contains(&"completions") && subs.contains(&"man"),
        "{subs:?}"
    );
    for sub in subs {
        let out = fleetsim(&root(), &[sub, "--help"]);
        assert!(out.status.success(), "{sub}: {}", text(&out.stderr));
        let help = text(&out.stdout);
        assert!(
            help.contains("Examples:"),
            "`fleetsim {sub} --help` has no examples:\n{help}"
        );
        assert!(help.contains(&format!("fleetsim {sub}")), "{sub}:\n{help}");
    }
}

#[test]
fn the_top_level_help_lists_the_exit_codes() {
    let out = fleetsim(&root(), &["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    assert!(help.contains("Exit codes:"), "{help}");
    for line in ["0  success", "1  ", "2  usage, scenario or I/O error"] {
        assert!(help.contains(line), "{line:?} missing:\n{help}");
    }
    assert!(help.contains("Examples:"), "{help}");
}

#[test]
fn version_names_the_package_and_maybe_the_commit() {
    let out = fleetsim(&root(), &["--version"]);
    assert!(out.status.success());
    let version = text(&out.stdout);
    let version = version.trim_end();
    assert!(version.starts_with("fleetsim 0.1.0"), "{version:?}");
    // Either the plain version or the version and a short commit hash.
    let rest = &version["fleetsim 0.1.0".len()..];
    let hash = rest.strip_prefix(" (").and_then(|r| r.strip_suffix(')'));
    assert!(
        rest.is_empty()
            || hash.is_some_and(|h| h.len() >= 4 && h.chars().all(|c| c.is_ascii_hexdigit())),
        "{version:?}"
    );
}
