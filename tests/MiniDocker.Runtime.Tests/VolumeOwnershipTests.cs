using System.Diagnostics;
using MiniDocker.Runtime.Userns;
using MiniDocker.Runtime.Volumes;

namespace MiniDocker.Runtime.Tests;

/// <summary>
/// A new volume moved into a --userns=auto range (Podman's NeedsChown): ids below the size are shifted, others kept,
/// set-id bits survive, a hard-linked file is shifted once, and no symlink is followed and no other mount entered.
/// Needs root (chown, mount).
/// </summary>
public sealed class VolumeOwnershipTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "mdk-vown-" + Guid.NewGuid().ToString("N")[..10]);
    private readonly IdMapping _ids = new(300000, 400000, 65536);

    public VolumeOwnershipTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Sh(string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{program} {string.Join(' ', args)}: {stderr}");
        return stdout.Trim();
    }

    private static string Owner(string path) => Sh("stat", "-c", "%u:%g", path);

    [Fact]
    public void Ids_inside_the_size_move_into_the_range_and_nothing_outside_the_volume_changes()
    {
        string data = Path.Combine(_dir, "_data"), outside = Path.Combine(_dir, "outside"), other = Path.Combine(_dir, "other");
        Directory.CreateDirectory(Path.Combine(data, "sub", "deeper"));
        Directory.CreateDirectory(outside);
        Directory.CreateDirectory(other);
        File.WriteAllText(Path.Combine(outside, "target"), "");
        File.WriteAllText(Path.Combine(other, "on-another-mount"), "");
        File.WriteAllText(Path.Combine(data, "root"), "");
        File.WriteAllText(Path.Combine(data, "sub", "deeper", "user"), "");
        File.WriteAllText(Path.Combine(data, "high"), "");
        File.WriteAllText(Path.Combine(data, "setuid"), "");
        File.WriteAllText(Path.Combine(data, "linked"), "");
        Sh("ln", Path.Combine(data, "linked"), Path.Combine(data, "sub", "second-name"));
        Sh("chown", "-R", "1000:1001", Path.Combine(data, "sub"));
        Sh("chown", "70000:70000", Path.Combine(data, "high")); // beyond the size: the container sees it as nobody's
        Sh("chown", "5:5", Path.Combine(data, "linked"));
        Sh("chmod", "6755", Path.Combine(data, "setuid"));
        File.CreateSymbolicLink(Path.Combine(data, "to-file"), Path.Combine(outside, "target"));
        File.CreateSymbolicLink(Path.Combine(data, "to-dir"), outside);
        Directory.CreateDirectory(Path.Combine(data, "mnt"));
        Sh("mount", "--bind", other, Path.Combine(data, "mnt"));
        try
        {
            VolumeOwnership.ShiftIntoRange(data, _ids);
        }
        finally
        {
            Sh("umount", Path.Combine(data, "mnt"));
        }

        Assert.Equal("300000:400000", Owner(data));
        Assert.Equal("300000:400000", Owner(Path.Combine(data, "root")));
        Assert.Equal("301000:401001", Owner(Path.Combine(data, "sub")));
        Assert.Equal("301000:401001", Owner(Path.Combine(data, "sub", "deeper", "user")));
        Assert.Equal("70000:70000", Owner(Path.Combine(data, "high")));
        Assert.Equal("300005:400005", Owner(Path.Combine(data, "linked"))); // once, not 600005
        Assert.Equal("300000 6755", Sh("stat", "-c", "%u %a", Path.Combine(data, "setuid")));
        // The links are the range's; what they point at and the other mount's files are as they were.
        Assert.Equal("300000:400000", Owner(Path.Combine(data, "to-file")));
        Assert.Equal("300000:400000", Owner(Path.Combine(data, "to-dir")));
        Assert.Equal("0:0", Owner(outside));
        Assert.Equal("0:0", Owner(Path.Combine(outside, "target")));
        Assert.Equal("0:0", Owner(other));
        Assert.Equal("0:0", Owner(Path.Combine(other, "on-another-mount")));
    }

    [Fact]
    public void The_shift_arithmetic_keeps_ids_past_the_size()
    {
        Assert.Equal(300000u, VolumeOwnership.Shifted(0, 300000, 65536));
        Assert.Equal(365535u, VolumeOwnership.Shifted(65535, 300000, 65536));
        Assert.Equal(65536u, VolumeOwnership.Shifted(65536, 300000, 65536));
        Assert.Equal(uint.MaxValue, VolumeOwnership.Shifted(uint.MaxValue, 300000, 65536));
    }
}
