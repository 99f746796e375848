namespace MiniDocker.IntegrationTests;

/// <summary>
/// The default seccomp filter and the per-container session keyring (issue 10, holes 4 and 6), each as an attack
/// from inside busybox: refused by default, allowed again with --security-opt seccomp=unconfined where only the
/// filter stood in the way. The keyring attacks use "keybox": busybox plus a static probe (KeyringProbeSource)
/// making the add_key/keyctl calls busybox has no applet for.
/// </summary>
public sealed class SeccompTests : IDisposable
{
    private readonly MiniDocker _md = new();
    private readonly string _probe;

    public SeccompTests()
    {
        _probe = Path.Combine(_md.Root, "keyring-probe");
        string source = Path.Combine(_md.Root, "keyring-probe.c");
        File.WriteAllText(source, KeyringProbeSource);
        Sh.Run("gcc", "-static", "-O2", "-o", _probe, source);
        string rootfs = Path.Combine(_md.Root, "keybox-rootfs");
        Directory.CreateDirectory(Path.Combine(rootfs, "bin"));
        File.Copy(_probe, Path.Combine(rootfs, "bin", "keyring-probe"));
        Sh.Run("tar", "-xf", MiniDocker.BusyboxTar, "-C", rootfs);
        string tar = Path.Combine(_md.Root, "keybox.tar");
        Sh.Run("tar", "-cf", tar, "-C", rootfs, ".");
        var r = _md.Run("image", "import", tar, "keybox");
        if (r.ExitCode != 0) throw new InvalidOperationException("import keybox: " + r);
        Directory.Delete(rootfs, recursive: true);
    }

    public void Dispose() => _md.Dispose();

    private Result Run(params string[] args) => _md.Run(["run", "--rm", .. args]);
    private static readonly string[] Unconfined = ["--security-opt", "seccomp=unconfined"];

    [Fact]
    public void The_default_filter_is_loaded_and_unconfined_has_none()
    {
        var r = Run("busybox", "grep", "^Seccomp:", "/proc/self/status");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("Seccomp:\t2", r.Stdout.Trim()); // 2: SECCOMP_MODE_FILTER
        var u = Run([.. Unconfined, "busybox", "grep", "^Seccomp:", "/proc/self/status"]);
        Assert.Equal("Seccomp:\t0", u.Stdout.Trim());
    }

    [Fact]
    public void A_user_namespace_inside_the_container_is_refused_unless_unconfined()
    {
        // unshare -Ur would give a full capability set over new mount and network namespaces.
        var r = Run("busybox", "unshare", "-Ur", "id", "-u");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("Operation not permitted", r.Stderr);
        var u = Run([.. Unconfined, "busybox", "unshare", "-Ur", "id", "-u"]);
        Assert.True(u.ExitCode == 0, u.ToString());
        Assert.Equal("0", u.Stdout.Trim());
    }

    [Fact]
    public void Keyring_system_calls_are_refused_unless_unconfined()
    {
        foreach (var call in new[] { "add-session", "add-user", "request" })
        {
            var r = Run("keybox", "keyring-probe", call);
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal("errno 1", r.Stdout.Trim()); // EPERM from the filter, the kernel never sees the call
        }
        var u = Run([.. Unconfined, "keybox", "keyring-probe", "add-session"]);
        Assert.True(u.ExitCode == 0, u.ToString());
        Assert.StartsWith("ok ", u.Stdout.Trim());
    }

    [Fact]
    public void The_containers_session_keyring_is_new_and_the_invoking_shells_keys_are_out_of_reach()
    {
        // As a login shell would, the probe gets a session keyring with a secret in it, then runs minidocker, which
        // inherits that keyring. Unconfined, so keyctl itself is allowed: only the new session keyring protects.
        var r = AsShellWithASecret(["run", "--rm", .. Unconfined, "keybox", "sh", "-c",
            "keyring-probe session; keyring-probe read {key}"]);
        Assert.True(r.Code == 0, r.ToString());
        var lines = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.StartsWith("shell session ", lines[0]);
        string hostSession = lines[0].Split(' ')[2];
        Assert.StartsWith("ok ", lines[1]);
        Assert.NotEqual(hostSession, lines[1][3..]);
        Assert.DoesNotContain("mdk-secret", lines[2]);
        Assert.Equal("errno 13", lines[2]); // EACCES: the key exists, but the container does not possess it

        // By default keyctl does not get that far.
        var d = AsShellWithASecret(["run", "--rm", "keybox", "keyring-probe", "read", "{key}"]);
        Assert.Equal("errno 1", d.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries)[1]);
    }

    /// <summary>minidocker ARGS run by the probe with a new session keyring holding a secret ({key} in ARGS is its
    /// id); the first line of the output is "shell session ID key ID".</summary>
    private (int Code, string Out, string Err) AsShellWithASecret(string[] args) =>
        Sh.Try(_probe, ["as-shell", MiniDocker.Binary, "--root", _md.Root, .. args]);

    [Fact]
    public void Setting_the_clock_and_rebooting_are_refused()
    {
        // busybox's date reports a failed settimeofday on stderr but still exits 0.
        var date = Run("busybox", "date", "-s", "2001-01-01 00:00:00");
        Assert.Contains("can't set date: Operation not permitted", date.Stderr);
        Assert.True(DateTime.UtcNow.Year > 2001);
        var reboot = Run("busybox", "reboot", "-f");
        Assert.NotEqual(0, reboot.ExitCode);
        Assert.Contains("Operation not permitted", reboot.Stderr);
        var mount = Run("busybox", "mount", "-t", "tmpfs", "none", "/mnt");
        Assert.NotEqual(0, mount.ExitCode);
    }

    [Fact]
    public void Exec_runs_under_the_containers_filter()
    {
        Assert.Equal(0, _md.Run("run", "-d", "--name", "confined", "busybox", "sleep", "60").ExitCode);
        Assert.Equal(0, _md.Run(["run", "-d", "--name", "free", .. Unconfined, "busybox", "sleep", "60"]).ExitCode);
        Assert.Equal("Seccomp:\t2", _md.Run("exec", "confined", "grep", "^Seccomp:", "/proc/self/status").Stdout.Trim());
        var r = _md.Run("exec", "confined", "unshare", "-U", "true");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("Operation not permitted", r.Stderr);
        var u = _md.Run("exec", "free", "unshare", "-U", "true");
        Assert.True(u.ExitCode == 0, u.ToString());
    }

    [Fact]
    public void A_profile_file_is_used_as_written_and_no_new_privileges_loads_it_last()
    {
        string profile = Path.Combine(_md.Root, "no-mkdir.json");
        File.WriteAllText(profile, """
        { "defaultAction": "SCMP_ACT_ALLOW",
          "syscalls": [ { "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13 } ] }
        """);
        var r = Run("--security-opt", $"seccomp={profile}", "busybox", "mkdir", "/x");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("Permission denied", r.Stderr);
        // Allowed by this profile (not by the default one): the file replaces the default, as in Docker.
        Assert.Equal(0, Run("--security-opt", $"seccomp={profile}", "busybox", "unshare", "-U", "true").ExitCode);

        var nnp = Run("--security-opt", "no-new-privileges", "busybox", "grep", "-E", "^(NoNewPrivs|Seccomp):", "/proc/self/status");
        Assert.True(nnp.ExitCode == 0, nnp.ToString());
        Assert.Equal("NoNewPrivs:\t1\nSeccomp:\t2", nnp.Stdout.Trim());
    }

    [Fact]
    public void A_missing_or_broken_profile_is_one_line_error_125_and_no_container()
    {
        string missing = Path.Combine(_md.Root, "no-such-profile.json");
        var r = _md.Run("run", "--security-opt", $"seccomp={missing}", "busybox", "true");
        Assert.Equal(125, r.ExitCode);
        Assert.Equal($"minidocker: opening seccomp profile ({missing}) failed: open {missing}: no such file or directory", r.Stderr.Trim());

        string broken = Path.Combine(_md.Root, "broken.json");
        File.WriteAllText(broken, "{ \"defaultAction\": ");
        var b = _md.Run("run", "--security-opt", $"seccomp={broken}", "busybox", "true");
        Assert.Equal(125, b.ExitCode);
        Assert.StartsWith("minidocker: decoding seccomp profile failed: ", b.Stderr.Trim());
        Assert.DoesNotContain('\n', b.Stderr.Trim());

        var bad = _md.Run("run", "--security-opt", "seccomp", "busybox", "true");
        Assert.Equal(125, bad.ExitCode);
        Assert.Equal("minidocker: invalid --security-opt: \"seccomp\"", bad.Stderr.Trim());

        Assert.Empty(_md.ContainerDirs());
        Assert.Equal("", _md.Run("ps", "-aq").Stdout.Trim());
    }

    /// <summary>add_key/request_key/keyctl without libkeyutils: prints "ok ID" or "errno N" and exits 0, so the
    /// test reads which refusal it met.</summary>
    private const string KeyringProbeSource = """
        #include <errno.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <unistd.h>
        #include <sys/syscall.h>
        #include <linux/keyctl.h>

        static int report(long r) {
            if (r < 0) printf("errno %d\n", errno); else printf("ok %ld\n", r);
            return 0;
        }

        int main(int argc, char **argv) {
            const char *secret = "mdk-secret-payload";
            if (argc < 2) return 2;
            if (!strcmp(argv[1], "add-session"))
                return report(syscall(SYS_add_key, "user", "mdk-test-key", secret, strlen(secret), KEY_SPEC_SESSION_KEYRING));
            if (!strcmp(argv[1], "add-user"))
                return report(syscall(SYS_add_key, "user", "mdk-test-key", secret, strlen(secret), KEY_SPEC_USER_KEYRING));
            if (!strcmp(argv[1], "request"))
                return report(syscall(SYS_request_key, "user", "mdk-test-key", NULL, 0));
            if (!strcmp(argv[1], "session"))
                return report(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
            if (!strcmp(argv[1], "read") && argc > 2) {
                char buf[256] = {0};
                long n = syscall(SYS_keyctl, KEYCTL_READ, atol(argv[2]), buf, sizeof buf - 1);
                if (n < 0) return report(n);
                printf("%s\n", buf);
                return 0;
            }
            if (!strcmp(argv[1], "as-shell") && argc > 2) {
                long session = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL);
                long key = syscall(SYS_add_key, "user", "mdk-test-key", secret, strlen(secret), KEY_SPEC_SESSION_KEYRING);
                if (session < 0 || key < 0) { perror("keyring"); return 1; }
                char id[32];
                snprintf(id, sizeof id, "%ld", key);
                for (int i = 2; i < argc; i++)
                    if (!strcmp(argv[i], "{key}")) argv[i] = id;
                    else if (strstr(argv[i], "{key}")) {
                        char *with = malloc(strlen(argv[i]) + sizeof id), *at = strstr(argv[i], "{key}");
                        sprintf(with, "%.*s%s%s", (int)(at - argv[i]), argv[i], id, at + 5);
                        argv[i] = with;
                    }
                printf("shell session %ld key %ld\n", session, key);
                fflush(stdout);
                execv(argv[2], argv + 2);
                perror("execv");
                return 127;
            }
            return 2;
        }
        """;
}
