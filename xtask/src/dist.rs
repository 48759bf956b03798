//! `cargo xtask dist` and `cargo xtask install`: release binaries (stripped
//! by the release profile), a man page per binary and subcommand, and
//! bash, zsh and fish completions, generated from the same clap
//! definitions the binaries parse with, so they cannot drift.

use crate::cargo;
use anyhow::Context;
use clap::CommandFactory;
use clap_complete::Shell;
use std::path::{Path, PathBuf};

/// Every binary's command line, as it parses it.
fn commands() -> Vec<clap::Command> {
    vec![
        apim_provision::Cli::command(),
        apim_backup::Cli::command(),
        apim_restore::Cli::command(),
        apim_namedvalues::Cli::command(),
        apim_diff::Cli::command(),
        apim_sync::Cli::command(),
        apim_emulator_bin::Cli::command(),
    ]
}

/// The layout of `target/dist/`.
pub(crate) struct Dist {
    pub root: PathBuf,
}

impl Dist {
    pub(crate) fn bin(&self) -> PathBuf {
        self.root.join("bin")
    }
    pub(crate) fn man(&self) -> PathBuf {
        self.root.join("share/man/man1")
    }
    pub(crate) fn completions(&self, shell: Shell) -> PathBuf {
        self.root.join("completions").join(shell.to_string())
    }
}

/// Copies the binaries from `bin_dir` and writes the man pages and
/// completions into `out`; returns each binary's name and size in bytes.
pub(crate) fn assemble(bin_dir: &Path, out: &Path) -> anyhow::Result<Vec<(String, u64)>> {
    let _ = std::fs::remove_dir_all(out);
    let d = Dist { root: out.to_path_buf() };
    std::fs::create_dir_all(d.bin())?;
    std::fs::create_dir_all(d.man())?;
    let mut sizes = Vec::new();
    for cmd in commands() {
        let name = cmd.get_name().to_string();
        let from = bin_dir.join(&name);
        let to = d.bin().join(&name);
        std::fs::copy(&from, &to).with_context(|| format!("copying {}", from.display()))?;
        sizes.push((name.clone(), std::fs::metadata(&to)?.len()));
        // One page for the binary and one for each subcommand (apim-provision-service.1, …).
        clap_mangen::generate_to(cmd.clone(), d.man()).with_context(|| format!("man pages of {name}"))?;
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let dir = d.completions(shell);
            std::fs::create_dir_all(&dir)?;
            clap_complete::generate_to(shell, &mut cmd.clone(), &name, &dir).with_context(|| format!("{shell} completion of {name}"))?;
        }
    }
    Ok(sizes)
}

/// `cargo xtask dist`: a release build assembled into `target/dist/`.
pub(crate) fn dist() -> anyhow::Result<PathBuf> {
    cargo(&["build", "--release", "--workspace", "--bins"])?;
    let root = apim_toolkit::workspace_root();
    let out = root.join("target/dist");
    let sizes = assemble(&root.join("target/release"), &out)?;
    for (name, size) in &sizes {
        eprintln!("dist: {name:<18} {:>6.1} MB", *size as f64 / 1e6);
    }
    eprintln!("dist: binaries, man pages and completions in {}", out.display());
    Ok(out)
}

/// Where each part of a dist goes below a prefix, as packages lay them out.
pub(crate) fn install_into(dist: &Path, prefix: &Path) -> anyhow::Result<()> {
    let d = Dist { root: dist.to_path_buf() };
    let copy_dir = |from: &Path, to: &Path, rename: &dyn Fn(&str) -> String| -> anyhow::Result<()> {
        std::fs::create_dir_all(to)?;
        for e in std::fs::read_dir(from)? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            std::fs::copy(e.path(), to.join(rename(&name))).with_context(|| format!("installing {name}"))?;
        }
        Ok(())
    };
    let same = |n: &str| n.to_string();
    copy_dir(&d.bin(), &prefix.join("bin"), &same)?;
    copy_dir(&d.man(), &prefix.join("share/man/man1"), &same)?;
    // bash-completion finds a completion by the command's own name.
    copy_dir(
        &d.completions(Shell::Bash),
        &prefix.join("share/bash-completion/completions"),
        &|n: &str| n.trim_end_matches(".bash").to_string(),
    )?;
    copy_dir(&d.completions(Shell::Zsh), &prefix.join("share/zsh/site-functions"), &same)?;
    copy_dir(&d.completions(Shell::Fish), &prefix.join("share/fish/vendor_completions.d"), &same)?;
    Ok(())
}

/// `cargo xtask install --prefix DIR`.
pub(crate) fn install(args: &[String]) -> anyhow::Result<()> {
    let prefix = match args {
        [flag, dir] if flag == "--prefix" => PathBuf::from(dir),
        _ => anyhow::bail!("usage: cargo xtask install --prefix DIR (e.g. ~/.local)"),
    };
    let dist = dist()?;
    install_into(&dist, &prefix)?;
    eprintln!(
        "install: binaries in {}, man pages in {}, completions for bash, zsh and fish under {}",
        prefix.join("bin").display(),
        prefix.join("share/man/man1").display(),
        prefix.join("share").display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The debug binaries the test run built, assembled and installed as
    /// a release would be: every page, every completion, in its place.
    #[test]
    fn dist_and_install_lay_out_binaries_pages_and_completions() {
        let root = apim_toolkit::workspace_root();
        let tmp = std::env::temp_dir().join(format!("apim-dist-test-{}", std::process::id()));
        let out = tmp.join("dist");
        let sizes = assemble(&root.join("target/debug"), &out).unwrap();
        assert_eq!(sizes.len(), 7);
        let prefix = tmp.join("prefix");
        install_into(&out, &prefix).unwrap();
        for cmd in commands() {
            let name = cmd.get_name().to_string();
            assert!(prefix.join("bin").join(&name).is_file(), "{name} installed");
            let page = std::fs::read_to_string(prefix.join("share/man/man1").join(format!("{name}.1"))).unwrap();
            assert!(page.contains(".TH") && page.contains(&name), "{name}.1 is a man page");
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                let p = prefix.join("share/man/man1").join(format!("{name}-{}.1", sub.get_name()));
                assert!(p.is_file(), "a man page for {name} {}", sub.get_name());
            }
            assert!(prefix.join("share/zsh/site-functions").join(format!("_{name}")).is_file());
            assert!(prefix
                .join("share/fish/vendor_completions.d")
                .join(format!("{name}.fish"))
                .is_file());
            // The bash completion loads, and completes the binary's subcommands.
            let script = prefix.join("share/bash-completion/completions").join(&name);
            let out = std::process::Command::new("bash")
                .arg("-c")
                .arg(format!("source '{}' && complete -p {name}", script.display()))
                .output()
                .unwrap();
            assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        }
        for page in [
            "apim-provision-delete.1",
            "apim-provision-list.1",
            "apim-backup-prune.1",
            "apim-namedvalues-rewrite.1",
            "apim-sync-plan.1",
            "apim-emulator-serve.1",
        ] {
            assert!(prefix.join("share/man/man1").join(page).is_file(), "{page}");
        }
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
