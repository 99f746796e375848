using System.Diagnostics;
using System.Formats.Tar;

namespace MiniDocker.IntegrationTests;

/// <summary>
/// Issue 10, hole 3: a local user must not reach root through the state root. As a non-root host user (nobody), a
/// setuid-root binary made in a container cannot be run through the state root, a container's -e secrets cannot be
/// read, and an image whose './' entry is 0777 opens no store directory to other users.
/// </summary>
public sealed class StateModeTests : IDisposable
{
    private readonly MiniDocker _md = new();
    private readonly List<string> _temp = [];

    public void Dispose()
    {
        _md.Dispose();
        foreach (var path in _temp) File.Delete(path);
    }

    /// <summary>The command as user nobody. Through env: setpriv itself still holds root's capabilities when it
    /// executes the command (it drops them in that execve), so a path it execs directly is not checked as nobody's.</summary>
    private static Result AsNobody(params string[] command)
    {
        var psi = new ProcessStartInfo("setpriv") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/env" }.Concat(command)) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return new Result(p.ExitCode, stdout, stderr);
    }

    private static UnixFileMode Mode(string path) => File.GetUnixFileMode(path);
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OthersAny = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    private string RunDetached(params string[] args)
    {
        var r = _md.Run(["run", "-d", "--net", "none", .. args]);
        Assert.True(r.ExitCode == 0, r.ToString());
        return r.Stdout.Trim();
    }

    [Fact]
    public void A_setuid_root_binary_made_in_a_container_cannot_be_run_by_a_host_user()
    {
        // The attacker's binary, made setuid root inside the container: the host's id (busybox's would drop the
        // privilege itself), written in through stdin.
        using (var p = _md.Start(true, "run", "-i", "--net", "none", "busybox", "sh", "-c", "cat > /tmp/id && chmod 4755 /tmp/id"))
        {
            using (var input = File.OpenRead("/usr/bin/id")) input.CopyTo(p.StandardInput.BaseStream);
            p.StandardInput.Close();
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, p.StandardError.ReadToEnd());
        }
        string id = Assert.Single(_md.ContainerDirs().Select(Path.GetFileName))!;
        string dir = Path.Combine(_md.Root, "containers", id);
        string binary = Path.Combine(dir, "upper", "tmp", "id");
        Assert.True((Mode(binary) & UnixFileMode.SetUser) != 0); // there, setuid root: only the way to it is closed

        var r = AsNobody(binary);
        Assert.DoesNotContain("euid=0", r.Stdout);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("Permission denied", r.Stderr);
        Assert.Equal(Private, Mode(_md.Root) & (Private | OthersAny));
        Assert.Equal(Private, Mode(Path.Combine(_md.Root, "containers")) & (Private | OthersAny));
        Assert.Equal(Private, Mode(dir) & (Private | OthersAny));
        Assert.Equal(Private, Mode(Path.Combine(dir, "work")) & (Private | OthersAny));

        // The attack this closes, with the modes an older version left (0755): nobody gets euid 0.
        var open = (UnixFileMode)0x1ED;
        foreach (var path in new[] { _md.Root, Path.Combine(_md.Root, "containers"), dir }) File.SetUnixFileMode(path, open);
        try { Assert.Contains("euid=0", AsNobody(binary).Stdout); }
        finally { foreach (var path in new[] { _md.Root, Path.Combine(_md.Root, "containers"), dir }) File.SetUnixFileMode(path, Private); }
    }

    [Fact]
    public void Inside_the_container_the_root_directory_stays_usable_by_its_users()
    {
        string id = RunDetached("busybox", "sleep", "100");
        var inside = _md.Run("exec", "-u", "65534", id, "sh", "-c", "stat -c %a /; ls /bin/sh");
        Assert.True(inside.ExitCode == 0, inside.ToString());
        Assert.StartsWith("755", inside.Stdout);
    }

    [Fact]
    public void A_containers_secrets_and_log_cannot_be_read_by_a_host_user()
    {
        string id = RunDetached("-e", "SECRET=hunter2-modes", "busybox", "sh", "-c", "echo logged-secret; sleep 100");
        string dir = Path.Combine(_md.Root, "containers", id);
        string config = Path.Combine(dir, "config.json"), log = Path.Combine(dir, "container.log");
        Assert.Contains("hunter2-modes", File.ReadAllText(config));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!(File.Exists(log) && File.ReadAllText(log).Contains("logged-secret")) && DateTime.UtcNow < deadline) Thread.Sleep(20);

        foreach (var file in new[] { config, log })
        {
            var r = AsNobody("cat", file);
            Assert.NotEqual(0, r.ExitCode);
            Assert.DoesNotContain("hunter2", r.Stdout);
            Assert.DoesNotContain("logged-secret", r.Stdout);
            Assert.Equal(UnixFileMode.None, Mode(file) & OthersAny);
        }
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, Mode(config) & (Private | OthersAny));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, Mode(log) & (Private | OthersAny));
    }

    [Fact]
    public void An_archive_whose_root_entry_is_0777_opens_no_store_directory()
    {
        string tar = Path.Combine(Path.GetTempPath(), $"mdk-modes-{Guid.NewGuid():N}.tar");
        _temp.Add(tar);
        using (var file = File.Create(tar))
        using (var writer = new TarWriter(file, TarEntryFormat.Pax))
        {
            var all = (UnixFileMode)0x1FF;
            writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "./") { Mode = all, Uid = 65534, Gid = 65534 });
            writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "./data/") { Mode = all });
            var content = new PaxTarEntry(TarEntryType.RegularFile, "./data/file") { Mode = (UnixFileMode)0x1A4 };
            content.DataStream = new MemoryStream("x"u8.ToArray());
            writer.WriteEntry(content);
        }
        var r = _md.Run("image", "import", tar, "openroot");
        Assert.True(r.ExitCode == 0, r.ToString());

        // No directory of the store (the image's own directories aside, which are its business inside a container)
        // can be entered, let alone written, by other users.
        string images = Path.Combine(_md.Root, "images");
        Assert.Equal(Private, Mode(images) & (Private | OthersAny));
        foreach (var layer in Directory.GetDirectories(images))
        {
            Assert.Equal(Private, Mode(layer) & (Private | OthersAny));
            string rootfs = Path.Combine(layer, "rootfs");
            if (!Directory.Exists(rootfs)) continue;
            Assert.Equal(UnixFileMode.None, Mode(rootfs) & (UnixFileMode.GroupWrite | UnixFileMode.OtherWrite));
            Assert.Equal(0, StatUid(rootfs));
        }
        string target = Directory.GetDirectories(images).Select(l => Path.Combine(l, "rootfs", "data")).First(Directory.Exists);
        var write = AsNobody("touch", Path.Combine(target, "pwned"));
        Assert.NotEqual(0, write.ExitCode);
        Assert.False(File.Exists(Path.Combine(target, "pwned")));
    }

    [Fact]
    public void An_existing_root_made_open_by_an_older_version_is_tightened()
    {
        var open = (UnixFileMode)0x1ED; // 0755
        foreach (var sub in new[] { "containers", "images" }) Directory.CreateDirectory(Path.Combine(_md.Root, sub));
        foreach (var path in new[] { _md.Root, Path.Combine(_md.Root, "containers"), Path.Combine(_md.Root, "images") })
            File.SetUnixFileMode(path, open);
        Assert.Equal(0, _md.Run("ps", "-a").ExitCode);
        Assert.Equal(0, _md.Run("images").ExitCode);
        foreach (var path in new[] { _md.Root, Path.Combine(_md.Root, "containers"), Path.Combine(_md.Root, "images") })
            Assert.Equal(Private, Mode(path) & (Private | OthersAny));
    }

    private static int StatUid(string path)
    {
        var psi = new ProcessStartInfo("stat", ["-c", "%u", path]) { RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return int.Parse(output.Trim());
    }
}
