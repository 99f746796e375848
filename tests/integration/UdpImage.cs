using System.Diagnostics;

namespace MiniDocker.IntegrationTests;

/// <summary>An image "udpbox": busybox plus a static UDP echo responder compiled from udp-echo.c with the host's gcc.</summary>
public static class UdpImage
{
    public static void Import(MiniDocker md)
    {
        string work = Path.Combine(md.Root, "udpbox-build");
        string rootfs = Path.Combine(work, "rootfs");
        Directory.CreateDirectory(Path.Combine(rootfs, "bin"));
        string source = Path.Combine(AppContext.BaseDirectory, "udp-echo.c");
        Sh.Run("gcc", "-static", "-O2", "-o", Path.Combine(rootfs, "bin", "udp-echo"), source);
        Sh.Run("tar", "-xf", MiniDocker.BusyboxTar, "-C", rootfs);
        string tar = Path.Combine(work, "udpbox.tar");
        Sh.Run("tar", "-cf", tar, "-C", rootfs, ".");
        var r = md.Run("image", "import", tar, "udpbox");
        if (r.ExitCode != 0) throw new InvalidOperationException("import udpbox: " + r);
        Directory.Delete(work, recursive: true);
    }
}
