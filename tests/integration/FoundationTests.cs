using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace MiniDocker.IntegrationTests;

/// <summary>
/// The foundation defects found by trying MiniDocker as a new user would (issue 9): every failure one line with
/// Docker's exit code, unknown verbs and flags named, security steps that cannot fail silently, bounded reads of what
/// a container or a user controls, and a crashed container's port released when the crash is seen.
/// </summary>
public sealed class FoundationTests : IDisposable
{
    private readonly MiniDocker _md = new();
    private readonly string _tag = Guid.NewGuid().ToString("N")[..6];
    private readonly List<string> _temp = [];

    public void Dispose()
    {
        _md.Dispose();
        foreach (var path in _temp)
        {
            if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
            else File.Delete(path);
        }
    }

    private string Name(string what) => $"fd-{what}-{_tag}";

    private string Temp(string suffix = "")
    {
        string path = Path.Combine(Path.GetTempPath(), $"mdk-fd-{Guid.NewGuid():N}{suffix}");
        _temp.Add(path);
        return path;
    }

    /// <summary>One line on stderr, prefixed, with the exit code given, and no stack trace.</summary>
    private static void AssertOneLineError(Result r, int exitCode, string contains)
    {
        Assert.True(r.ExitCode == exitCode, r.ToString());
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length is 1 or 2, r.ToString()); // the message, and for usage errors the hint
        Assert.StartsWith("minidocker: ", lines[0]);
        Assert.Contains(contains, lines[0]);
        Assert.DoesNotContain("Unhandled exception", r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);
    }

    private static Result RunAs(string user, params string[] args)
    {
        var psi = new ProcessStartInfo("setpriv") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { $"--reuid={user}", $"--regid={user}", "--clear-groups", MiniDocker.Binary }.Concat(args))
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return new Result(p.ExitCode, stdout, stderr);
    }

    [Fact]
    public void Unknown_verbs_and_flags_are_named_as_docker_names_them_and_flags_after_the_image_are_the_programs()
    {
        var verb = _md.Run("statz");
        AssertOneLineError(verb, 125, "'statz' is not a minidocker command");
        Assert.Contains("See 'minidocker --help'.", verb.Stderr);
        AssertOneLineError(_md.Run("foo", "bar"), 125, "'foo' is not a minidocker command");
        AssertOneLineError(_md.Run("network", "foo"), 125, "'network foo' is not a minidocker command");
        AssertOneLineError(_md.Run("network"), 125, "'minidocker network' requires a subcommand");
        // A group's --help is its help, as Docker's `docker network --help` (the CLI builds only the named verb).
        var groupHelp = _md.Run("network", "--help");
        Assert.True(groupHelp.ExitCode == 0, groupHelp.ToString());
        Assert.Contains("connect", groupHelp.Stdout);
        Assert.Contains("trace", groupHelp.Stdout);
        var rootHelp = _md.Run("--help");
        foreach (var name in new[] { "run", "network", "volume", "login", "doctor" }) Assert.Contains($"  {name} ", rootHelp.Stdout);

        var flag = _md.Run("run", "--bogus", "busybox");
        AssertOneLineError(flag, 125, "unknown flag: --bogus");
        Assert.Contains("See 'minidocker run --help'.", flag.Stderr);
        AssertOneLineError(_md.Run("run", "--frobnicate", "1g", "busybox", "true"), 125, "unknown flag: --frobnicate");
        AssertOneLineError(_md.Run("ps", "-x"), 125, "unknown shorthand flag: 'x' in -x");
        AssertOneLineError(_md.Run("ps", "--all=true", "--nope"), 125, "unknown flag: --nope");

        var program = _md.Run("run", "--rm", "--net", "none", "busybox", "echo", "--bogus", "-x");
        Assert.True(program.ExitCode == 0, program.ToString());
        Assert.Equal("--bogus -x\n", program.Stdout);
        // Bundled short flags, Docker's and the classic spellings, still work.
        var bundled = _md.Run("run", "--rm", "-net", "none", "-ti", "busybox", "true");
        Assert.True(bundled.ExitCode == 0, bundled.ToString());
    }

    [Fact]
    public void A_user_who_is_not_root_is_told_so_in_one_line_and_a_debug_switch_gives_the_trace()
    {
        string root = Temp();
        foreach (var args in new[] { new[] { "network", "create", "--subnet", "10.9.0.0/24", "n" }, ["network", "ls"], ["ps"] })
        {
            var r = RunAs("65534", ["--root", root, .. args]);
            AssertOneLineError(r, 125, "must be run as root");
        }
        Assert.False(Directory.Exists(root), "a refused command created the state root");
        var help = RunAs("65534", "--help");
        Assert.Equal(0, help.ExitCode);

        var plain = _md.Run("run", "--rm", "--net", "none", "no-such-image-" + _tag);
        Assert.Single(plain.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var debug = _md.Run("--debug", "run", "--rm", "--net", "none", "no-such-image-" + _tag);
        Assert.Equal(plain.ExitCode, debug.ExitCode);
        Assert.True(debug.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length > 2, debug.ToString());
        Assert.Contains("Exception", debug.Stderr);
    }

    [Fact]
    public void A_mask_of_proc_that_fails_stops_the_container_with_a_clear_error_and_leaves_nothing()
    {
        var r = RunWithEnv("MINIDOCKER_FAILPOINT", "mask", "run", "--net", "none", "--name", Name("mask"), "busybox", "echo", "ran");
        AssertOneLineError(r, 125, "cannot mask /proc/");
        Assert.DoesNotContain("ran", r.Stdout);
        Assert.DoesNotContain(Name("mask"), _md.Run("ps", "-a").Stdout);

        // Without the fail point the masks are in place: /proc/keys reads as empty (the host's has lines), /proc/acpi
        // is an empty read-only tmpfs, /proc/sys is read-only. (This kernel has no /proc/kcore.)
        var masked = _md.Run("run", "--rm", "--net", "none", "busybox", "sh", "-c",
            "wc -c < /proc/keys; ls /proc/acpi | wc -l; grep ' /proc/acpi ' /proc/mounts; echo 1 > /proc/sys/kernel/domainname && echo WROTE; true");
        Assert.True(masked.ExitCode == 0, masked.ToString());
        var lines = masked.Stdout.Split('\n');
        Assert.Equal(("0", "0"), (lines[0].Trim(), lines[1].Trim()));
        Assert.StartsWith("tmpfs /proc/acpi tmpfs ro", lines[2]);
        Assert.DoesNotContain("WROTE", masked.Stdout);
    }

    private Result RunWithEnv(string name, string value, params string[] args)
    {
        var psi = new ProcessStartInfo(MiniDocker.Binary) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment[name] = value;
        foreach (var a in new[] { "--root", _md.Root }.Concat(args)) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        string stderr = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(60_000), "did not finish");
        return new Result(p.ExitCode, stdout.Result, stderr);
    }

    [Fact]
    public void A_state_root_that_is_a_file_or_on_a_kernel_filesystem_is_refused_in_one_line()
    {
        string file = Temp();
        File.WriteAllText(file, "not a directory");
        foreach (var args in new[] { new[] { "--root", file, "ps" }, ["--root", Path.Combine(file, "sub"), "ps"],
                     ["--root", "/proc/minidocker-" + _tag, "ps"], ["--root", "/sys/kernel/minidocker", "network", "ls"] })
        {
            var psi = new ProcessStartInfo(MiniDocker.Binary) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in args) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            string stderr = p.StandardError.ReadToEnd();
            p.WaitForExit();
            AssertOneLineError(new Result(p.ExitCode, "", stderr), 125, "state root");
        }
        Assert.Equal("not a directory", File.ReadAllText(file));
        Assert.False(Directory.Exists("/proc/minidocker-" + _tag));
    }

    [Fact]
    public void An_env_file_that_is_dev_zero_a_fifo_or_a_directory_is_refused_quickly()
    {
        string fifo = Temp(".fifo");
        Process.Start("mkfifo", fifo)!.WaitForExit();
        string dir = Temp();
        Directory.CreateDirectory(dir);
        foreach (var (file, says) in new[] { ("/dev/zero", "not a regular file"), (fifo, "not a regular file"),
                     (dir, "is a directory"), (Temp(".missing"), "no such file or directory") })
        {
            var r = _md.RunWith(null, TimeSpan.FromSeconds(20), "run", "--rm", "--net", "none", "--env-file", file, "busybox", "true");
            AssertOneLineError(r, 125, says);
        }
        Assert.Empty(_md.ContainerDirs());
    }

    [Fact]
    public void Exec_reads_the_containers_passwd_and_group_bounded_a_link_to_dev_zero_or_a_fifo_is_an_error_not_a_hang()
    {
        foreach (var (file, trap) in new[] { ("passwd", "ln -sf /dev/zero /etc/passwd"), ("group", "rm /etc/group; mkfifo /etc/group") })
        {
            var run = _md.Run("run", "-d", "--net", "none", "--name", Name(file), "busybox", "sh", "-c", $"{trap}; echo ready; exec sleep 300");
            Assert.True(run.ExitCode == 0, run.ToString());
            for (int i = 0; i < 100 && !_md.Run("logs", Name(file)).Stdout.Contains("ready"); i++) Thread.Sleep(50);
            var r = _md.RunWith(null, TimeSpan.FromSeconds(30), "exec", Name(file), "true");
            AssertOneLineError(r, 126, $"/etc/{file} is not a regular file");
        }
    }

    [Fact]
    public void Hostnames_that_are_not_rfc_1123_are_refused_and_w_naming_a_file_says_not_a_directory()
    {
        AssertOneLineError(_md.Run("run", "--rm", "--net", "none", "-h", "evil\n10.0.0.1 bank.example", "busybox", "true"), 125, "invalid hostname");
        AssertOneLineError(_md.Run("run", "--rm", "--net", "none", "-h", "", "busybox", "true"), 125, "invalid hostname");
        AssertOneLineError(_md.Run("run", "--rm", "--net", "none", "-h", "-bad", "busybox", "true"), 125, "invalid hostname");
        var ok = _md.Run("run", "--rm", "--net", "none", "-h", "web-1.lab", "busybox", "hostname");
        Assert.Equal("web-1.lab\n", ok.Stdout);

        AssertOneLineError(_md.Run("run", "--rm", "--net", "none", "-w", "/etc/passwd", "busybox", "pwd"), 126,
            "chdir to cwd (\"/etc/passwd\") failed: not a directory");
        Assert.Empty(_md.ContainerDirs());
        AssertOneLineError(_md.Run("rm", ""), 1, "invalid container name or ID: value is empty");
    }

    [Fact]
    public void Inspect_of_an_ambiguous_prefix_says_so_and_of_a_missing_one_says_no_such_object()
    {
        var firstChars = new Dictionary<char, string>();
        string? ambiguous = null;
        for (int i = 0; i < 17 && ambiguous is null; i++)
        {
            string id = _md.Run("run", "--net", "none", "busybox", "true").Stdout.Trim();
            id = _md.Run("ps", "-aq", "--no-trunc").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .First(x => !firstChars.ContainsValue(x));
            if (firstChars.ContainsKey(id[0])) ambiguous = id[..1];
            else firstChars[id[0]] = id;
        }
        Assert.NotNull(ambiguous);
        AssertOneLineError(_md.Run("inspect", ambiguous!), 1, $"multiple containers match \"{ambiguous}\"");
        AssertOneLineError(_md.Run("inspect", "zz-no-such-" + _tag), 1, "no such object: zz-no-such-");
    }

    [Fact]
    public void A_container_whose_image_content_vanished_says_so_at_start_instead_of_a_netns_error()
    {
        var run = _md.Run("run", "--name", Name("gone"), "busybox", "true");
        Assert.True(run.ExitCode == 0, run.ToString());
        string rootfs = Directory.GetDirectories(Path.Combine(_md.Root, "images"), "*", SearchOption.AllDirectories)
            .First(d => Path.GetFileName(d) == "rootfs");
        string aside = rootfs + ".aside";
        Directory.Move(rootfs, aside);
        try
        {
            var start = _md.Run("start", "-a", Name("gone"));
            AssertOneLineError(start, 125, "is no longer in the image store");
            Assert.DoesNotContain("netns", start.Stderr);
        }
        finally { Directory.Move(aside, rootfs); }
    }

    [Fact]
    public void A_crashed_containers_published_port_is_released_when_the_crash_is_seen()
    {
        string net = "fd" + _tag;
        string subnet = $"10.{Random.Shared.Next(100, 200)}.{Random.Shared.Next(0, 255)}.0/24";
        Assert.Equal(0, _md.Run("network", "create", "--subnet", subnet, net).ExitCode);
        int port = HostPorts.Free();
        string web = "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www";
        var first = _md.Run("run", "-d", "--net", net, "-p", $"{port}:80", "--name", Name("a"), "-h", "first", "busybox", "sh", "-c", web);
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Equal("first\n", HostPorts.Fetch($"http://127.0.0.1:{port}/"));

        var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(_md.Root, "containers", first.Stdout.Trim(), "state.json"))).RootElement;
        int monitor = state.GetProperty("monitorPid").GetInt32(), program = state.GetProperty("pid").GetInt32();
        Process.Start("kill", ["-9", monitor.ToString(), program.ToString()])!.WaitForExit();
        for (int i = 0; i < 200 && (Directory.Exists($"/proc/{program}") || Directory.Exists($"/proc/{monitor}")); i++) Thread.Sleep(50);

        Assert.Contains("Exited (255)", _md.Run("ps", "-a").Stdout);
        // Seen as crashed: its port, address and rules are free for the next container at once.
        var second = _md.Run("run", "-d", "--net", net, "-p", $"{port}:80", "--name", Name("b"), "-h", "second", "busybox", "sh", "-c", web);
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Equal("second\n", HostPorts.Fetch($"http://127.0.0.1:{port}/"));
        var rows = _md.Run("ps", "-a", "--format", "{{.Names}} {{.Ports}}").Stdout.Split('\n');
        Assert.Equal($"{Name("a")} ", rows.Single(r => r.StartsWith(Name("a"))));
        Assert.Contains($"{Name("b")} 0.0.0.0:{port}->80/tcp", rows);
    }

}

/// <summary>The state root on a full disk (a small tmpfs): one-line errors, nothing half-made, and all works again
/// once space is freed.</summary>
public sealed class FullDiskTests : IDisposable
{
    private readonly string _mount = Path.Combine(Path.GetTempPath(), "mdk-full-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly string _filler;

    public FullDiskTests()
    {
        Directory.CreateDirectory(_mount);
        global::MiniDocker.IntegrationTests.Sh.Run("mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", _mount);
        _filler = Path.Combine(_mount, "filler");
    }

    public void Dispose()
    {
        global::MiniDocker.IntegrationTests.Sh.Try("umount", "-l", _mount);
        Directory.Delete(_mount, recursive: true);
    }

    private Result Md(params string[] args)
    {
        var psi = new ProcessStartInfo(MiniDocker.Binary) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--root", Path.Combine(_mount, "root") }.Concat(args)) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return new Result(p.ExitCode, stdout.Result, stderr);
    }

    private void Fill()
    {
        using var f = new FileStream(_filler, FileMode.Create);
        var block = new byte[64 * 1024];
        try { while (true) f.Write(block); } catch (IOException) { }
    }

    [Fact]
    public void Run_and_rm_on_a_full_disk_fail_in_one_line_leave_nothing_and_work_once_space_is_freed()
    {
        Assert.Equal(0, Md("image", "import", "-c", "CMD [\"sh\"]", MiniDocker.BusyboxTar, "busybox").ExitCode);
        var detached = Md("run", "-d", "--net", "none", "--name", "keep", "busybox", "sleep", "300");
        Assert.True(detached.ExitCode == 0, detached.ToString());
        Fill();

        var run = Md("run", "--rm", "--net", "none", "busybox", "true");
        Assert.Equal(125, run.ExitCode);
        Assert.Single(run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("No space left on device", run.Stderr);
        Assert.DoesNotContain("   at ", run.Stderr);
        Assert.Equal(["keep"], Md("ps", "-a", "--format", "{{.Names}}").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        var rm = Md("rm", "-f", "keep");
        Assert.DoesNotContain("   at ", rm.Stderr);
        Assert.True(rm.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length <= 1, rm.ToString());

        File.Delete(_filler);
        if (rm.ExitCode != 0) Assert.Equal(0, Md("rm", "-f", "keep").ExitCode);
        Assert.Empty(Md("ps", "-aq").Stdout.Trim());
        var again = Md("run", "--rm", "--net", "none", "busybox", "echo", "works");
        Assert.Equal("works\n", again.Stdout);
    }
}
