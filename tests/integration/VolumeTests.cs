using System.Diagnostics;
using System.Text.Json;

namespace MiniDocker.IntegrationTests;

/// <summary>
/// Issue 12, volumes: -v (bind, named, anonymous), --mount, --tmpfs, --read-only, the volume verbs, and mounts that a
/// symlink (planted by another container sharing a volume, or in the image) or a ".." cannot lead onto a host path.
/// Every test also checks that nothing of its root or host directory stays mounted on the host.
/// </summary>
public sealed class VolumeTests : IDisposable
{
    private readonly MiniDocker _md = new();
    private readonly string _host = Path.Combine(Path.GetTempPath(), "mdk-vol-" + Guid.NewGuid().ToString("N")[..10]);

    public VolumeTests() => Directory.CreateDirectory(_host);

    public void Dispose()
    {
        _md.Dispose();
        string mounts = File.ReadAllText("/proc/mounts");
        try { Directory.Delete(_host, recursive: true); } catch (IOException) { }
        Assert.DoesNotContain(_md.Root, mounts);
        Assert.DoesNotContain(_host, mounts);
    }

    private Result Ok(params string[] args)
    {
        var r = _md.Run(args);
        Assert.True(r.ExitCode == 0, $"{string.Join(' ', args)}: {r}");
        return r;
    }

    private string Data(string volume) => Path.Combine(_md.Root, "volumes", volume, "_data");

    [Fact]
    public void Named_volume_data_survives_rm_and_is_seen_by_the_next_container()
    {
        Ok("run", "--name", "writer", "--net", "none", "-v", "keep:/data", "busybox", "sh", "-c", "echo persisted > /data/f");
        Ok("rm", "writer");
        Assert.Equal("persisted", Ok("run", "--rm", "--net", "none", "-v", "keep:/data", "busybox", "cat", "/data/f").Stdout.Trim());
        Assert.Contains("keep", Ok("volume", "ls", "-q").Stdout.Split('\n'));
        Assert.Equal("local keep", Ok("volume", "ls", "--format", "{{.Driver}} {{.Name}}").Stdout.Trim());
        var inspect = JsonDocument.Parse(Ok("volume", "inspect", "keep").Stdout).RootElement[0];
        Assert.Equal(Data("keep"), inspect.GetProperty("Mountpoint").GetString());
        // Only root reaches the store: a setuid file a container puts in a volume is out of other users' reach.
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute,
            File.GetUnixFileMode(Path.Combine(_md.Root, "volumes")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute,
            File.GetUnixFileMode(Path.Combine(_md.Root, "volumes", "keep")));
    }

    [Fact]
    public void An_images_VOLUME_is_an_anonymous_volume_filled_from_the_image_and_removed_with_rm_v()
    {
        Ok("run", "--name", "seed", "--net", "none", "busybox", "sh", "-c", "mkdir /data && echo from-image > /data/seed");
        Ok("commit", "-c", "VOLUME /data", "seed", "withvol");
        Ok("rm", "seed");
        var inspect = JsonDocument.Parse(Ok("image", "inspect", "withvol").Stdout).RootElement[0];
        Assert.True(inspect.GetProperty("Config").GetProperty("Volumes").TryGetProperty("/data", out _));

        // /data is a mount of its own, filled from the image's /data on first use, as Docker does.
        Ok("run", "-d", "--name", "user", "--net", "none", "withvol", "sleep", "60");
        Assert.Equal("from-image", Ok("exec", "user", "cat", "/data/seed").Stdout.Trim());
        Assert.Contains(" /data ", Ok("exec", "user", "cat", "/proc/mounts").Stdout);
        Ok("exec", "user", "sh", "-c", "echo written > /data/new");
        var volume = Assert.Single(Ok("volume", "ls", "-q").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal("written", File.ReadAllText(Path.Combine(Data(volume), "new")).Trim());
        // The user's own mount at the path takes its place.
        Assert.Equal("", Ok("run", "--rm", "--net", "none", "--tmpfs", "/data", "withvol", "ls", "/data").Stdout.Trim());
        Ok("rm", "-f", "-v", "user");
        Assert.Equal("", Ok("volume", "ls", "-q").Stdout.Trim());
        // --rm takes the image's anonymous volume too.
        Ok("run", "--rm", "--net", "none", "withvol", "true");
        Assert.Equal("", Ok("volume", "ls", "-q").Stdout.Trim());
    }

    [Fact]
    public void Read_only_mounts_refuse_writes_with_EROFS_and_rw_allows_them()
    {
        File.WriteAllText(Path.Combine(_host, "f"), "host\n");
        foreach (var flags in new[] { new[] { "-v", "ro1:/data:ro" }, ["-v", $"{_host}:/data:ro"], ["--mount", $"type=bind,source={_host},target=/data,readonly"] })
        {
            var r = _md.Run(["run", "--rm", "--net", "none", .. flags, "busybox", "sh", "-c", "echo x > /data/new; echo rc=$?"]);
            Assert.Contains("rc=1", r.Stdout);
            Assert.Contains("Read-only file system", r.Stderr);
        }
        Assert.False(File.Exists(Path.Combine(_host, "new")));
        Ok("run", "--rm", "--net", "none", "-v", $"{_host}:/data:rw", "busybox", "sh", "-c", "echo x > /data/new");
        Assert.True(File.Exists(Path.Combine(_host, "new")));
    }

    [Fact]
    public void Bind_mount_shows_host_files_and_v_creates_a_missing_source_but_mount_does_not()
    {
        File.WriteAllText(Path.Combine(_host, "hello"), "from host\n");
        Assert.Equal("from host", Ok("run", "--rm", "--net", "none", "-v", $"{_host}:/h", "busybox", "cat", "/h/hello").Stdout.Trim());
        // A file bind too.
        Assert.Equal("from host", Ok("run", "--rm", "--net", "none", "-v", $"{_host}/hello:/etc/greeting:ro", "busybox", "cat", "/etc/greeting").Stdout.Trim());

        string missing = Path.Combine(_host, "made", "by", "v");
        Ok("run", "--rm", "--net", "none", "-v", $"{missing}:/m", "busybox", "true");
        Assert.True(Directory.Exists(missing));
        var r = _md.Run("run", "--rm", "--net", "none", "--mount", $"type=bind,source={_host}/nope,target=/m", "busybox", "true");
        Assert.Equal(125, r.ExitCode);
        Assert.Equal($"minidocker: invalid mount config for type \"bind\": bind source path does not exist: {_host}/nope", r.Stderr.Trim());
    }

    [Fact]
    public void A_new_named_volume_is_filled_from_the_image_with_owners_and_modes()
    {
        Ok("run", "--rm", "--net", "none", "-v", "etc:/etc", "busybox", "true");
        string image = Ok("run", "--rm", "--net", "none", "busybox", "sh", "-c", "stat -c '%a %u %g' /etc /etc/passwd; cat /etc/passwd").Stdout;
        string fromVolume = Ok("run", "--rm", "--net", "none", "-v", "etc:/copy", "busybox", "sh", "-c", "stat -c '%a %u %g' /copy /copy/passwd; cat /copy/passwd").Stdout;
        Assert.Equal(image, fromVolume);
        Assert.Contains("root:", fromVolume);

        // A volume that has content is not filled again; nocopy leaves a new one empty.
        Ok("run", "--rm", "--net", "none", "-v", "mine:/data", "busybox", "sh", "-c", "echo mine > /data/own");
        Assert.Equal("own", Ok("run", "--rm", "--net", "none", "-v", "mine:/etc", "busybox", "ls", "/etc").Stdout.Trim());
        Assert.Equal("", Ok("run", "--rm", "--net", "none", "-v", "empty:/etc:nocopy", "busybox", "/bin/ls", "/etc").Stdout.Trim());
    }

    [Fact]
    public void Volume_rm_is_refused_while_a_container_uses_it()
    {
        string id = Ok("run", "-d", "--net", "none", "-v", "busy:/data", "busybox", "sleep", "300").Stdout.Trim();
        var r = _md.Run("volume", "rm", "busy");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"minidocker: remove busy: volume is in use - [{id}]", r.Stderr.Trim());
        Ok("stop", "-t", "0", id);
        Assert.Equal(1, _md.Run("volume", "rm", "busy").ExitCode); // a stopped container still uses it (Docker)
        Ok("rm", id);
        Assert.Equal("busy", Ok("volume", "rm", "busy").Stdout.Trim());
        Assert.False(Directory.Exists(Path.Combine(_md.Root, "volumes", "busy")));
        r = _md.Run("volume", "rm", "busy");
        Assert.Equal((1, "minidocker: get busy: no such volume"), (r.ExitCode, r.Stderr.Trim()));
        Ok("volume", "rm", "-f", "busy");
    }

    [Fact]
    public void Rm_v_removes_anonymous_volumes_and_keeps_named_ones_and_prune_takes_unused_anonymous()
    {
        Ok("run", "--name", "c1", "--net", "none", "-v", "/anon", "-v", "named:/named", "busybox", "sh", "-c", "echo a > /anon/f");
        var mounts = JsonDocument.Parse(Ok("inspect", "c1").Stdout).RootElement[0].GetProperty("Mounts");
        var anon = mounts.EnumerateArray().Single(m => m.GetProperty("Destination").GetString() == "/anon");
        string anonName = anon.GetProperty("Name").GetString()!;
        Assert.Equal(("volume", Data(anonName), true), (anon.GetProperty("Type").GetString(), anon.GetProperty("Source").GetString(), anon.GetProperty("RW").GetBoolean()));
        Assert.Equal("a\n", File.ReadAllText(Path.Combine(Data(anonName), "f")));
        Ok("rm", "-v", "c1");
        Assert.False(Directory.Exists(Path.Combine(_md.Root, "volumes", anonName)));
        Assert.True(Directory.Exists(Data("named")));

        // Without -v the anonymous volume stays; prune takes it (not the named one), run --rm takes its own.
        Ok("run", "--name", "c2", "--net", "none", "-v", "/anon2", "busybox", "true");
        Ok("rm", "c2");
        Assert.Equal(2, Ok("volume", "ls", "-q").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Contains("Deleted Volumes:", Ok("volume", "prune", "-f").Stdout);
        Assert.Equal("named", Ok("volume", "ls", "-q").Stdout.Trim());
        Ok("run", "--rm", "--net", "none", "-v", "/anon3", "busybox", "true");
        Assert.Equal("named", Ok("volume", "ls", "-q").Stdout.Trim());
    }

    [Fact]
    public void Tmpfs_is_writable_up_to_its_size()
    {
        foreach (var flags in new[] { new[] { "--tmpfs", "/t:size=1m" }, ["--mount", "type=tmpfs,target=/t,tmpfs-size=1m"] })
        {
            var r = _md.Run(["run", "--rm", "--net", "none", .. flags, "busybox", "sh", "-c",
                "echo ok > /t/small && cat /t/small; dd if=/dev/zero of=/t/big bs=1024 count=2048; echo rc=$?; grep ' /t ' /proc/mounts"]);
            Assert.Contains("ok", r.Stdout);
            Assert.Contains("No space left on device", r.Stderr);
            Assert.Contains("rc=1", r.Stdout);
            Assert.Contains("size=1024k", r.Stdout);
            Assert.Contains("nosuid,nodev,noexec", r.Stdout);
        }
    }

    [Fact]
    public void Read_only_root_refuses_writes_to_slash_but_not_to_volumes_and_tmpfs()
    {
        var r = _md.Run("run", "--rm", "--net", "none", "--read-only", "-v", "rw:/data", "--tmpfs", "/tmp", "busybox", "sh", "-c",
            "touch /root-file; echo root=$?; touch /data/f; echo data=$?; touch /tmp/f; echo tmp=$?; echo x > /etc/hosts; echo hosts=$?");
        Assert.Contains("root=1", r.Stdout);
        Assert.Contains("Read-only file system", r.Stderr);
        Assert.Contains("data=0", r.Stdout);
        Assert.Contains("tmp=0", r.Stdout);
        Assert.Contains("hosts=0", r.Stdout);
        // The switch: without --read-only the same write succeeds.
        Assert.Contains("root=0", Ok("run", "--rm", "--net", "none", "busybox", "sh", "-c", "touch /root-file; echo root=$?").Stdout);
        string id = Ok("run", "-d", "--net", "none", "--read-only", "busybox", "true").Stdout.Trim();
        Ok("wait", id);
        Assert.Equal("true", Ok("inspect", "-f", "{{.HostConfig.ReadonlyRootfs}}", id).Stdout.Trim());
    }

    /// <summary>
    /// CVE-2021-30465's shape: container A shares a volume with B and plants a symlink where B mounts something. The
    /// mount must land inside B's root (the link read as if B's root were "/"), never on the host path it names.
    /// Without openat2(RESOLVE_IN_ROOT) the mount lands on the host path in B's namespace, which pivot_root then
    /// drops, and B does not see the file at all.
    /// </summary>
    [Fact]
    public void A_symlink_planted_in_a_shared_volume_cannot_redirect_a_mount_to_the_host()
    {
        string src = Path.Combine(_host, "src");
        Directory.CreateDirectory(src);
        File.WriteAllText(Path.Combine(src, "marker"), "from-src\n");
        string hostTarget = Path.Combine(_host, "victim");
        Directory.CreateDirectory(hostTarget);
        File.WriteAllText(Path.Combine(hostTarget, "original"), "host\n");

        Ok("run", "--rm", "--net", "none", "-v", "shared:/data", "busybox", "sh", "-c",
            $"ln -s {hostTarget} /data/tohost && ln -s /etc /data/toetc && ln -s / /data/toroot && ln -s ../../../.. /data/up && ln -s /proc/sys /data/toproc");

        // An absolute link to a host path: followed inside B's root.
        var r = Ok("run", "--rm", "--net", "none", "-v", "shared:/data", "-v", $"{src}:/data/tohost", "busybox", "sh", "-c",
            $"cat {hostTarget}/marker; ls {hostTarget}");
        Assert.Equal("from-src\nmarker\n", r.Stdout);
        Assert.Equal(["original"], Directory.GetFiles(hostTarget).Select(Path.GetFileName));

        // A link to /etc: B's /etc gets it, the host's /etc is untouched.
        r = Ok("run", "--rm", "--net", "none", "-v", "shared:/data", "-v", $"{src}:/data/toetc", "busybox", "cat", "/etc/marker");
        Assert.Equal("from-src", r.Stdout.Trim());
        Assert.False(File.Exists("/etc/marker"));

        // ".." cannot climb out either: it stops at B's root, so this is B's own /tmp.
        r = Ok("run", "--rm", "--net", "none", "-v", "shared:/data", "-v", $"{src}:/data/up/tmp/escaped", "busybox", "cat", "/tmp/escaped/marker");
        Assert.Equal("from-src", r.Stdout.Trim());
        Assert.False(Directory.Exists("/tmp/escaped"));

        // A link to "/" would cover B's whole root, one into /proc would cover kernel files: both refused.
        r = _md.Run("run", "--rm", "--net", "none", "-v", "shared:/data", "-v", $"{src}:/data/toroot", "busybox", "true");
        Assert.Equal(125, r.ExitCode);
        Assert.Contains("resolves to the container's root", r.Stderr);
        r = _md.Run("run", "--rm", "--net", "none", "-v", "shared:/data", "-v", $"{src}:/data/toproc", "busybox", "true");
        Assert.Equal(125, r.ExitCode);
        Assert.Contains("\"/proc/sys\" cannot be mounted because it is inside /proc", r.Stderr);
    }

    [Fact]
    public void Dot_dot_in_a_destination_stays_in_the_container_and_proc_is_refused()
    {
        File.WriteAllText(Path.Combine(_host, "marker"), "dotdot\n");
        string name = "mdk-dotdot-" + Guid.NewGuid().ToString("N")[..8];
        var r = Ok("run", "--rm", "--net", "none", "-v", $"{_host}:/../../../../tmp/{name}", "busybox", "cat", $"/tmp/{name}/marker");
        Assert.Equal("dotdot", r.Stdout.Trim());
        Assert.False(Directory.Exists($"/tmp/{name}"));

        r = _md.Run("run", "--rm", "--net", "none", "-v", $"{_host}:/proc", "busybox", "true");
        Assert.Equal((125, "minidocker: \"/proc\" cannot be mounted because it is not of type proc"), (r.ExitCode, r.Stderr.Trim()));
        r = _md.Run("run", "--rm", "--net", "none", "--tmpfs", "/proc/sys", "busybox", "true");
        Assert.Equal((125, "minidocker: \"/proc/sys\" cannot be mounted because it is inside /proc"), (r.ExitCode, r.Stderr.Trim()));
        Assert.Empty(_md.ContainerDirs());
    }
}

/// <summary>Issue 12, --init: tini (Debian's tini-static, bind-mounted read-only) as PID 1 forwards signals and reaps.</summary>
public sealed class InitTests : IDisposable
{
    private readonly MiniDocker _md = new();

    public void Dispose() => _md.Dispose();

    private Result Ok(params string[] args)
    {
        var r = _md.Run(args);
        Assert.True(r.ExitCode == 0, $"{string.Join(' ', args)}: {r}");
        return r;
    }

    [Fact]
    public void Stop_ends_a_handlerless_program_at_once_with_init_and_exit_codes_pass_through()
    {
        string id = Ok("run", "-d", "--net", "none", "--init", "busybox", "sleep", "300").Stdout.Trim();
        Assert.Equal("/sbin/docker-init -- sleep 300", Ok("exec", id, "cat", "/proc/1/cmdline").Stdout.Replace('\0', ' ').Trim());
        var watch = Stopwatch.StartNew();
        Ok("stop", "-t", "8", id);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"stop took {watch.Elapsed}");
        Assert.Equal("143", Ok("inspect", "-f", "{{.State.ExitCode}}", id).Stdout.Trim()); // SIGTERM, passed on by tini

        // The switch: the same program as PID 1 ignores SIGTERM, and stop waits for its grace period.
        id = Ok("run", "-d", "--net", "none", "busybox", "sleep", "300").Stdout.Trim();
        watch.Restart();
        Ok("stop", "-t", "3", id);
        Assert.True(watch.Elapsed >= TimeSpan.FromSeconds(3), $"stop took only {watch.Elapsed}");

        var r = _md.Run("run", "--rm", "--net", "none", "--init", "busybox", "sh", "-c", "exit 7");
        Assert.Equal(7, r.ExitCode);
        // The binary cannot be changed from inside.
        r = _md.Run("run", "--rm", "--net", "none", "--init", "busybox", "sh", "-c", "echo x > /sbin/docker-init; echo rc=$?");
        Assert.Contains("rc=1", r.Stdout);
    }

    [Fact]
    public void Init_reaps_orphaned_zombies()
    {
        // An orphan (the exec'd shell exits and leaves its child) is re-parented to PID 1: tini reaps it when it exits,
        // a plain `sleep` as PID 1 never does.
        const string script = "sh -c 'sleep 0.3 & exit 0'; sleep 2; ps -o stat,comm | grep -c '^Z' || true";
        string withInit = Ok("run", "-d", "--net", "none", "--init", "busybox", "sleep", "300").Stdout.Trim();
        Assert.Equal("0", Ok("exec", withInit, "sh", "-c", script).Stdout.Trim());
        string without = Ok("run", "-d", "--net", "none", "busybox", "sleep", "300").Stdout.Trim();
        Assert.Equal("1", Ok("exec", without, "sh", "-c", script).Stdout.Trim());
        Ok("rm", "-f", withInit, without);
    }
}
