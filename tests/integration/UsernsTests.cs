using System.Diagnostics;
using System.Text.Json;

namespace MiniDocker.IntegrationTests;

/// <summary>
/// Issue 12, user namespaces: `run --userns=auto` maps the container's root to an unprivileged host range from
/// /etc/subuid and /etc/subgid (the "minidocker" entry scripts/subids.sh adds), with idmapped image layers. What the
/// container does as root is done on the host as that range's first id; the attacks a mapped root could try on host
/// files and on other containers fail. Needs the minidocker entry (setup.sh).
/// </summary>
public sealed class UsernsTests : IDisposable
{
    private readonly MiniDocker _md = new();
    private readonly string _host = Path.Combine(Path.GetTempPath(), "mdk-uns-" + Guid.NewGuid().ToString("N")[..10]);

    public UsernsTests()
    {
        Directory.CreateDirectory(_host);
        // Writable by anyone, so the mapped root can make files in it (it is "other" to this directory's host owner).
        File.SetUnixFileMode(_host, (UnixFileMode)0b111_111_111);
    }

    public void Dispose()
    {
        _md.Dispose();
        string mounts = File.ReadAllText("/proc/mounts");
        try { Directory.Delete(_host, recursive: true); } catch (IOException) { }
        Assert.DoesNotContain(_md.Root, mounts);
        Assert.DoesNotContain(_host, mounts);
        Assert.Empty(AllocationsOfThisRoot());
    }

    private Result Ok(params string[] args)
    {
        var r = _md.Run(args);
        Assert.True(r.ExitCode == 0, $"{string.Join(' ', args)}: {r}");
        return r;
    }

    private List<JsonElement> AllocationsOfThisRoot()
    {
        string file = "/var/lib/minidocker-userns/allocations.json";
        if (!File.Exists(file)) return [];
        string mine = Path.Combine(_md.Root, "containers");
        return JsonDocument.Parse(File.ReadAllText(file)).RootElement.EnumerateArray()
            .Where(a => a.GetProperty("containersDir").GetString() == mine).ToList();
    }

    /// <summary>The first host uid and gid the container's 0 maps to, and the size, from inspect.</summary>
    private (long Uid, long Gid, long Size) Mapping(string container)
    {
        var host = JsonDocument.Parse(Ok("inspect", container).Stdout).RootElement[0].GetProperty("HostConfig");
        Assert.Equal("auto", host.GetProperty("UsernsMode").GetString());
        var uid = host.GetProperty("IDMappings").GetProperty("UidMap")[0].GetString()!.Split(':');
        var gid = host.GetProperty("IDMappings").GetProperty("GidMap")[0].GetString()!.Split(':');
        Assert.Equal("0", uid[0]);
        return (long.Parse(uid[1]), long.Parse(gid[1]), long.Parse(uid[2]));
    }

    private static (string Start, string Count) SubidsOfMinidocker(string file)
    {
        var line = File.ReadAllLines(file).Single(l => l.StartsWith("minidocker:", StringComparison.Ordinal)).Split(':');
        return (line[1], line[2]);
    }

    private static Result Host(string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return new Result(p.ExitCode, stdout, stderr);
    }

    private static string StatusLine(int pid, string key) =>
        File.ReadAllLines($"/proc/{pid}/status").Single(l => l.StartsWith(key + ":", StringComparison.Ordinal));

    [Fact]
    public void Root_inside_is_an_unprivileged_host_uid_that_owns_what_it_writes_to_a_bind_volume()
    {
        string id = Ok("run", "-d", "--net", "none", "--userns=auto", "-v", $"{_host}:/data", "busybox",
            "sh", "-c", "touch /data/made-inside && mkdir /data/dir && exec sleep 300").Stdout.Trim();
        var (uid, gid, size) = Mapping(id);
        Assert.Equal(65536, size);
        long subStart = long.Parse(SubidsOfMinidocker("/etc/subuid").Start);
        Assert.True(uid >= subStart && uid >= 100000, $"mapped uid {uid} is outside minidocker's subordinate ids");

        // Inside: root, with the namespace's map.
        Assert.Equal("0 0", Ok("exec", id, "sh", "-c", "echo $(id -u) $(id -g)").Stdout.Trim());
        var map = Ok("exec", id, "cat", "/proc/self/uid_map").Stdout.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["0", uid.ToString(), "65536"], map.Select(s => s.Trim()).ToArray());
        // The image's files (host root's on disk) show as root's through the idmapped layers, not as nobody.
        Assert.Equal("0 0", Ok("exec", id, "stat", "-c", "%u %g", "/bin/busybox").Stdout.Trim());

        // Outside: the program runs as the mapped ids, and its files are theirs.
        int pid = JsonDocument.Parse(Ok("inspect", id).Stdout).RootElement[0].GetProperty("State").GetProperty("Pid").GetInt32();
        Assert.Equal($"Uid:\t{uid}\t{uid}\t{uid}\t{uid}", StatusLine(pid, "Uid"));
        Assert.Equal($"Gid:\t{gid}\t{gid}\t{gid}\t{gid}", StatusLine(pid, "Gid"));
        Assert.Equal($"{uid}:{gid}", Host("stat", "-c", "%u:%g", Path.Combine(_host, "made-inside")).Stdout.Trim());
        Assert.Equal($"{uid}:{gid}", Host("stat", "-c", "%u:%g", Path.Combine(_host, "dir")).Stdout.Trim());
        // Nothing was chowned: the image layer's file is host root's on disk.
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(_md.Root, "containers", id, "config.json")));
        string layer = config.RootElement.GetProperty("rootfsLower").GetString()!;
        Assert.Equal("0:0", Host("stat", "-c", "%u:%g", Path.Combine(layer, "bin", "busybox")).Stdout.Trim());
    }

    [Fact]
    public void A_layered_image_keeps_its_whiteouts_and_opaque_directories_through_idmapped_layers()
    {
        // commit makes a second layer: a file, a deleted file (whiteout) and a replaced directory (opaque).
        Ok("run", "--name", "base", "--net", "none", "busybox", "sh", "-c",
            "echo layer2 > /l2 && rm /bin/ls && rm -rf /usr && mkdir -p /usr/only && echo x > /usr/only/f");
        Ok("commit", "base", "mdk-uns-layers:2");
        var r = Ok("run", "--rm", "--net", "none", "--userns=auto", "mdk-uns-layers:2", "sh", "-c",
            "stat -c '%u %g' /l2 /bin/busybox /usr/only/f; cat /l2; test -e /bin/ls; echo ls=$?; ls /usr | tr '\\n' ' '; touch /l2 /bin/new && echo writable");
        Assert.Equal("0 0\n0 0\n0 0\nlayer2\nls=1\nonly writable\n", r.Stdout);
        Ok("rm", "base");
    }

    [Fact]
    public void Two_auto_containers_get_disjoint_ranges_and_rm_gives_them_back()
    {
        string a = Ok("run", "-d", "--net", "none", "--userns=auto", "busybox", "sleep", "300").Stdout.Trim();
        string b = Ok("run", "-d", "--net", "none", "--userns=auto:size=1000", "busybox", "sleep", "300").Stdout.Trim();
        var ma = Mapping(a);
        var host = JsonDocument.Parse(Ok("inspect", b).Stdout).RootElement[0].GetProperty("HostConfig");
        Assert.Equal("auto:size=1000", host.GetProperty("UsernsMode").GetString());
        var ub = host.GetProperty("IDMappings").GetProperty("UidMap")[0].GetString()!.Split(':');
        var mb = (Uid: long.Parse(ub[1]), Size: long.Parse(ub[2]));
        Assert.Equal(1000, mb.Size);
        Assert.True(ma.Uid + ma.Size <= mb.Uid || mb.Uid + mb.Size <= ma.Uid, $"ranges overlap: {ma} and {mb}");
        Assert.Equal(2, AllocationsOfThisRoot().Count);

        // A stopped container keeps its range (its upper directory is owned by it) and gets it again at start.
        Ok("stop", "-t", "1", a);
        Ok("start", a);
        Assert.Equal(ma, Mapping(a));

        Ok("rm", "-f", a, b);
        Assert.Empty(AllocationsOfThisRoot());
        // The default is the host's user namespace, as Docker's.
        string plain = Ok("run", "--rm", "--net", "none", "busybox", "cat", "/proc/self/uid_map").Stdout;
        Assert.Equal(["0", "0", "4294967295"], plain.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(s => s.Trim()).ToArray());
        Assert.Equal(plain, Ok("run", "--rm", "--net", "none", "--userns=host", "busybox", "cat", "/proc/self/uid_map").Stdout);
    }

    [Fact]
    public void The_container_root_is_nobody_to_a_host_root_file_in_a_bind_volume()
    {
        string secret = Path.Combine(_host, "secret");
        File.WriteAllText(secret, "host root only\n");
        File.SetUnixFileMode(secret, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var r = _md.Run("run", "--rm", "--net", "none", "--userns=auto", "-v", $"{_host}:/data", "busybox",
            "sh", "-c", "stat -c '%u %g' /data/secret; cat /data/secret; echo cat=$?; echo x >> /data/secret; echo write=$?; chown 0 /data/secret; echo chown=$?");
        Assert.Equal(0, r.ExitCode);
        Assert.StartsWith("65534 65534\n", r.Stdout); // the overflow id: host 0 has no name in the namespace
        Assert.DoesNotContain("host root only", r.Stdout);
        Assert.Contains("cat=1", r.Stdout);
        Assert.Contains("write=1", r.Stdout);
        Assert.Contains("chown=1", r.Stdout);
        Assert.Equal("host root only\n", File.ReadAllText(secret));
        // The same file is readable to a container in the host's user namespace (the test's control).
        Assert.Contains("host root only", Ok("run", "--rm", "--net", "none", "-v", $"{_host}:/data", "busybox", "cat", "/data/secret").Stdout);
    }

    [Fact]
    public void A_setuid_root_file_made_inside_is_setuid_to_the_mapped_uid_on_the_host()
    {
        string id = Ok("run", "-d", "--net", "none", "--userns=auto", "-v", $"{_host}:/data", "busybox", "sleep", "300").Stdout.Trim();
        var (uid, _, _) = Mapping(id);
        // The host's coreutils id (busybox, run setuid, drops the privilege itself), copied by the container's root
        // and made setuid root by it.
        File.Copy("/usr/bin/id", Path.Combine(_host, "host-id"));
        Ok("exec", id, "sh", "-c", "cp /data/host-id /data/id && chown 0:0 /data/id && chmod 4755 /data/id");
        string file = Path.Combine(_host, "id");
        Assert.Equal($"{uid} 4755", Host("stat", "-c", "%u %a", file).Stdout.Trim());
        // A host user running it gets the mapped uid as its effective uid, never 0.
        var r = Host("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", file, "-u");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(uid.ToString(), r.Stdout.Trim());
    }

    [Fact]
    public void A_container_mapped_uid_cannot_signal_another_container()
    {
        string a = Ok("run", "-d", "--net", "none", "--userns=auto", "busybox", "sleep", "300").Stdout.Trim();
        string b = Ok("run", "-d", "--net", "none", "--userns=auto", "busybox", "sleep", "300").Stdout.Trim();
        var (uidA, gidA, _) = Mapping(a);
        int pidA = JsonDocument.Parse(Ok("inspect", a).Stdout).RootElement[0].GetProperty("State").GetProperty("Pid").GetInt32();
        int pidB = JsonDocument.Parse(Ok("inspect", b).Stdout).RootElement[0].GetProperty("State").GetProperty("Pid").GetInt32();
        // As a's root on the host (what a process escaping a's pid namespace would be): its own program, yes; b's, no.
        Result KillAs(int pid) => Host("setpriv", $"--reuid={uidA}", $"--regid={gidA}", "--clear-groups", "/bin/sh", "-c", $"kill -0 {pid}");
        Assert.Equal(0, KillAs(pidA).ExitCode);
        var refused = KillAs(pidB);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("Operation not permitted", refused.Stderr);
        Assert.Equal("running", Ok("inspect", "-f", "{{.State.Status}}", b).Stdout.Trim());
    }

    [Fact]
    public void Inside_it_is_root_of_its_namespace_with_the_usual_confinement()
    {
        string script = "grep -E '^(CapEff|CapBnd|CapInh|CapAmb|Seccomp|NoNewPrivs):' /proc/self/status; ls /sys/class/net | tr '\\n' ' '; echo; " +
                        "echo 1 > /proc/sys/kernel/domainname 2>/dev/null; echo procsys=$?; unshare -U true 2>/dev/null; echo unshare=$?; " +
                        "ls /dev | tr '\\n' ' '; echo; echo hi > /dev/null && head -c 4 /dev/zero | wc -c; mount | grep -c ' /dev/pts '; " +
                        "mount | grep -c ' /dev/mqueue '; mount | grep -c ' /dev/shm '";
        var inside = Ok("run", "--rm", "--net", "none", "--userns=auto", "--security-opt", "no-new-privileges", "busybox", "sh", "-c", script).Stdout;
        var plain = Ok("run", "--rm", "--net", "none", "--security-opt", "no-new-privileges", "busybox", "sh", "-c", script).Stdout;
        // Same capabilities (Docker's default set), same seccomp filter and no_new_privs, same masks, same /dev as
        // without a user namespace; only that these capabilities now act on the namespace's own objects.
        Assert.Equal(plain, inside);
        Assert.Contains("CapInh:\t0000000000000000", inside);
        Assert.Contains("CapAmb:\t0000000000000000", inside);
        Assert.Contains("Seccomp:\t2", inside);
        Assert.Contains("NoNewPrivs:\t1", inside);
        Assert.Contains("procsys=1", inside);
        Assert.Contains("unshare=1", inside);
        Assert.Contains("lo", inside); // sysfs of its own network namespace
        // --user inside the namespace, a read-only root, and tini as PID 1 still work.
        Assert.Equal("1000 1000", Ok("run", "--rm", "--net", "none", "--userns=auto", "--user", "1000:1000", "busybox", "sh", "-c", "echo $(id -u) $(id -g)").Stdout.Trim());
        var ro = _md.Run("run", "--rm", "--net", "none", "--userns=auto", "--read-only", "--init", "busybox", "sh", "-c", "touch /x; cat /proc/1/cmdline | tr '\\0' ' '");
        Assert.Contains("Read-only file system", ro.Stderr);
        Assert.StartsWith("/sbin/docker-init", ro.Stdout);
    }

    [Fact]
    public void A_terminal_works_in_run_and_exec()
    {
        Result InTerminal(string command)
        {
            var psi = new ProcessStartInfo("script", ["-qec", $"{MiniDocker.Binary} --root {_md.Root} {command}", "/dev/null"])
            { RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = Process.Start(psi)!;
            string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
            Assert.True(p.WaitForExit(60_000), command);
            return new Result(p.ExitCode, stdout, stderr);
        }
        // The pty's slave is made by minidocker outside (host root) and handed to the container's root.
        var run = InTerminal("run --rm -t --net none --userns=auto busybox sh -c 'tty; stat -c %u /dev/pts/0'");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("/dev/pts/0\r\n0\r\n", run.Stdout);
        string id = Ok("run", "-d", "--net", "none", "--userns=auto", "busybox", "sleep", "300").Stdout.Trim();
        var exec = InTerminal($"exec -t {id} tty");
        Assert.True(exec.ExitCode == 0, exec.ToString());
        Assert.Contains("/dev/pts/", exec.Stdout);
    }

    [Fact]
    public void Bad_values_and_an_exhausted_range_are_refused_with_one_clear_line()
    {
        var bad = _md.Run("run", "--rm", "--userns=private", "busybox", "true");
        Assert.Equal(125, bad.ExitCode);
        Assert.Contains("invalid --userns \"private\"", bad.Stderr);
        var privileged = _md.Run("run", "--rm", "--userns=auto", "--privileged", "busybox", "true");
        Assert.Equal(125, privileged.ExitCode);
        Assert.Contains("privileged mode is incompatible with user namespaces", privileged.Stderr);
        var hostNet = _md.Run("run", "--rm", "--userns=auto", "--net", "host", "busybox", "true");
        Assert.Equal(125, hostNet.ExitCode);
        Assert.Contains("cannot share the host's network namespace", hostNet.Stderr);

        long count = long.Parse(SubidsOfMinidocker("/etc/subuid").Count);
        var tooBig = _md.Run("run", "--rm", "--net", "none", $"--userns=auto:size={count + 1}", "busybox", "true");
        Assert.Equal(125, tooBig.ExitCode);
        Assert.Contains($"no free range of {count + 1} ids left in /etc/subuid", tooBig.Stderr);
        Assert.Empty(_md.ContainerDirs());
    }

    private string Data(string volume) => Path.Combine(_md.Root, "volumes", volume, "_data");

    private static string Owner(string path) => Host("stat", "-c", "%u:%g", path).Stdout.Trim();

    [Fact]
    public void Root_inside_writes_a_new_named_volume_and_its_files_are_the_ranges_on_the_host()
    {
        string id = Ok("run", "-d", "--net", "none", "--userns=auto", "-v", "uvol:/data", "-v", "/anon", "busybox", "sh", "-c",
            "echo made > /data/f && mkdir /data/d && touch /anon/a && exec sleep 300").Stdout.Trim();
        var (uid, gid, _) = Mapping(id);
        // Inside: the volume's root is root's, and what root made is root's.
        Assert.Equal("0 0\n0 0\n0 0\n", Ok("exec", id, "stat", "-c", "%u %g", "/data", "/data/f", "/anon/a").Stdout);
        // On the host: the range's first ids, the volume's own directory included.
        Assert.Equal($"{uid}:{gid}", Owner(Data("uvol")));
        Assert.Equal($"{uid}:{gid}", Owner(Path.Combine(Data("uvol"), "f")));
        Assert.Equal($"{uid}:{gid}", Owner(Path.Combine(Data("uvol"), "d")));
        Assert.Equal("made\n", File.ReadAllText(Path.Combine(Data("uvol"), "f")));
        // Chowned once: a second userns container (another range, as the first still runs) finds it as the first left
        // it, and sees nobody's.
        var second = Ok("run", "--rm", "--net", "none", "--userns=auto", "-v", "uvol:/data", "busybox", "sh", "-c",
            "stat -c '%u %g' /data/f; touch /data/g 2>/dev/null; echo touch=$?");
        Assert.Equal("65534 65534\ntouch=1\n", second.Stdout);
        Assert.Equal($"{uid}:{gid}", Owner(Path.Combine(Data("uvol"), "f")));
    }

    [Fact]
    public void An_images_VOLUME_is_writable_by_the_mapped_root_and_its_files_keep_their_owners()
    {
        // A hostile image: /data holds a root file, a 1000:1000 directory and file, and a symlink to a host file.
        string target = Path.Combine(_host, "host-file");
        File.WriteAllText(target, "host\n");
        string rootfs = Path.Combine(_host, "rootfs");
        Directory.CreateDirectory(Path.Combine(rootfs, "data", "sub"));
        Host("tar", "-xf", MiniDocker.BusyboxTar, "-C", rootfs);
        File.WriteAllText(Path.Combine(rootfs, "data", "root-file"), "r\n");
        File.WriteAllText(Path.Combine(rootfs, "data", "sub", "user-file"), "u\n");
        Assert.Equal(0, Host("chown", "-R", "1000:1000", Path.Combine(rootfs, "data", "sub")).ExitCode);
        File.CreateSymbolicLink(Path.Combine(rootfs, "data", "link"), target);
        string tar = Path.Combine(_host, "image.tar");
        Assert.Equal(0, Host("tar", "-cf", tar, "-C", rootfs, ".").ExitCode);
        Ok("image", "import", "-c", "VOLUME /data", tar, "mdk-uns-vol");

        string id = Ok("run", "-d", "--net", "none", "--userns=auto", "mdk-uns-vol", "sleep", "300").Stdout.Trim();
        var (uid, gid, _) = Mapping(id);
        Assert.Equal("0 0 755\n0 0 644\n1000 1000 755\n1000 1000 644\n",
            Ok("exec", id, "stat", "-c", "%u %g %a", "/data", "/data/root-file", "/data/sub", "/data/sub/user-file").Stdout);
        Ok("exec", id, "sh", "-c", "echo new > /data/new && echo more >> /data/root-file");
        string volume = Assert.Single(Ok("volume", "ls", "-q").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal($"{uid + 1000}:{gid + 1000}", Owner(Path.Combine(Data(volume), "sub", "user-file")));
        Assert.Equal($"{uid}:{gid}", Owner(Path.Combine(Data(volume), "new")));
        // The link was chowned itself; its target, a host file, was not followed.
        Assert.Equal($"{uid}:{gid}", Host("stat", "-c", "%u:%g", Path.Combine(Data(volume), "link")).Stdout.Trim());
        Assert.Equal("0:0", Owner(target));
    }

    [Fact]
    public void A_volume_first_used_outside_a_user_namespace_is_not_chowned_later()
    {
        Ok("run", "--rm", "--net", "none", "-v", "hostvol:/data", "busybox", "sh", "-c", "echo host > /data/f");
        var r = Ok("run", "--rm", "--net", "none", "--userns=auto", "-v", "hostvol:/data", "busybox", "sh", "-c",
            "stat -c '%u %g' /data /data/f; echo x > /data/g 2>/dev/null; echo write=$?");
        Assert.Equal("65534 65534\n65534 65534\nwrite=1\n", r.Stdout);
        Assert.Equal("0:0", Owner(Data("hostvol")));
        Assert.Equal("0:0", Owner(Path.Combine(Data("hostvol"), "f")));
        // The control: a volume a userns container uses first is its root's.
        Assert.Contains("write=0", Ok("run", "--rm", "--net", "none", "--userns=auto", "-v", "fresh:/data", "busybox", "sh", "-c",
            "echo x > /data/g; echo write=$?").Stdout);
    }

    [Fact]
    public void The_chown_follows_no_symlink_a_first_container_planted_and_stays_out_of_other_mounts()
    {
        // Host files the links point at, and a directory mounted inside the volume: all host root's, and stay so.
        string victim = Path.Combine(_host, "victim");
        Directory.CreateDirectory(victim);
        File.WriteAllText(Path.Combine(victim, "file"), "host\n");
        string mounted = Path.Combine(_host, "mounted");
        Directory.CreateDirectory(mounted);
        File.WriteAllText(Path.Combine(mounted, "inside"), "other mount\n");
        Ok("volume", "create", "planted");
        // The first container reaches the volume's directory through a bind (which neither marks nor chowns it) and
        // plants links to host paths: a file, a directory, and a relative one climbing out.
        Ok("run", "--rm", "--net", "none", "-v", $"{Data("planted")}:/plant", "busybox", "sh", "-c",
            $"ln -s {victim}/file /plant/tofile && ln -s {victim} /plant/todir && ln -s ../../../../../../../..{victim}/file /plant/up && mkdir /plant/mnt");
        Assert.Equal(0, Host("mount", "--bind", mounted, Path.Combine(Data("planted"), "mnt")).ExitCode);
        try
        {
            var r = Ok("run", "--rm", "--net", "none", "--userns=auto", "-v", "planted:/data", "busybox", "sh", "-c",
                "stat -c '%u %g' /data; echo x > /data/new; echo write=$?");
            Assert.Equal("0 0\nwrite=0\n", r.Stdout);
        }
        finally
        {
            Host("umount", Path.Combine(Data("planted"), "mnt"));
        }
        Assert.Equal("0:0", Owner(victim));
        Assert.Equal("0:0", Owner(Path.Combine(victim, "file")));
        Assert.Equal("0:0", Owner(mounted));
        Assert.Equal("0:0", Owner(Path.Combine(mounted, "inside")));
        // The links themselves and the mount point's own directory were moved into the range.
        Assert.NotEqual("0:0", Host("stat", "-c", "%u:%g", Path.Combine(Data("planted"), "tofile")).Stdout.Trim());
        Assert.NotEqual("0:0", Host("stat", "-c", "%u:%g", Path.Combine(Data("planted"), "up")).Stdout.Trim());
    }

    [Theory]
    [InlineData("run.userns-cloned")]
    [InlineData("run.userns-mapped")]
    public void A_failure_between_clone_and_go_leaves_no_range_no_mount_no_process(string step)
    {
        using var failing = new MiniDocker(environment: new Dictionary<string, string> { ["MINIDOCKER_FAILPOINT"] = step });
        var r = failing.Run("run", "--name", "f", "--net", "none", "--userns=auto", "busybox", "true");
        Assert.Equal(125, r.ExitCode);
        Assert.Contains($"injected failure at step '{step}'", r.Stderr);
        string file = "/var/lib/minidocker-userns/allocations.json";
        string mine = Path.Combine(failing.Root, "containers");
        if (File.Exists(file))
            Assert.DoesNotContain(JsonDocument.Parse(File.ReadAllText(file)).RootElement.EnumerateArray(),
                a => a.GetProperty("containersDir").GetString() == mine);
        Assert.DoesNotContain(failing.Root, File.ReadAllText("/proc/mounts"));
        // No process is left in a user namespace of this run: every one has the host's map or is someone else's.
        Assert.DoesNotContain(Directory.GetDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _)),
            d => { try { return File.ReadAllText(Path.Combine(d, "cmdline")).Contains(failing.Root); } catch (IOException) { return false; } });
    }
}
