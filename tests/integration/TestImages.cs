namespace MiniDocker.IntegrationTests;

/// <summary>Images for tests that need a program busybox lacks (a UDP echo, a raw-packet prober, an attacker): busybox
/// plus one C file of this folder compiled static with the host's gcc into /bin.</summary>
public static class TestImages
{
    /// <param name="extra">adds more files to the root filesystem before it is packed</param>
    public static void BusyboxWith(MiniDocker md, string name, string cSource, Action<string>? extra = null)
    {
        string work = Path.Combine(md.Root, name + "-build");
        string rootfs = Path.Combine(work, "rootfs");
        Directory.CreateDirectory(Path.Combine(rootfs, "bin"));
        Sh.Run("gcc", "-static", "-O2", "-o", Path.Combine(rootfs, "bin", Path.GetFileNameWithoutExtension(cSource)),
            Path.Combine(AppContext.BaseDirectory, cSource));
        Sh.Run("tar", "-xf", MiniDocker.BusyboxTar, "-C", rootfs);
        extra?.Invoke(rootfs);
        string tar = Path.Combine(work, name + ".tar");
        Sh.Run("tar", "-cf", tar, "-C", rootfs, ".");
        var r = md.Run("image", "import", tar, name);
        if (r.ExitCode != 0) throw new InvalidOperationException($"import {name}: {r}");
        Directory.Delete(work, recursive: true);
    }
}
