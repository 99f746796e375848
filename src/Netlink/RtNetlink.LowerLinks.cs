using System.Runtime.InteropServices;

namespace MiniDocker.Netlink;

public sealed partial class RtNetlink
{
    /// <summary>
    /// Creates a macvlan child of <paramref name="parent"/> (a link of this namespace) directly inside the namespace
    /// behind <paramref name="netns"/>, named <paramref name="name"/> there, down. One request: the kernel looks the
    /// parent up in the socket's namespace and registers the child in the target one, so no host-side name is ever
    /// taken and nothing needs moving.
    /// </summary>
    public void CreateMacvlanInto(string name, string parent, SafeHandle netns, MacvlanMode mode, byte[]? mac = null, int mtu = 0)
    {
        CheckLinkName(name);
        if (mac is not null && mac.Length != 6) throw new ArgumentException("a MAC address has 6 bytes", nameof(mac));
        int parentIndex = IndexOf(parent);
        WithFd(netns, fd =>
        {
            RtnlLowerLinks.CreateMacvlan(_request, NextSequence(), name, parentIndex, mode, fd, mac, mtu);
            Acknowledge("macvlan", name, $"on parent '{parent}'");
        });
    }

    /// <summary>Creates an ipvlan child of <paramref name="parent"/> inside the namespace behind <paramref name="netns"/>
    /// (see <see cref="CreateMacvlanInto"/>).</summary>
    public void CreateIpvlanInto(string name, string parent, SafeHandle netns, IpvlanMode mode, int mtu = 0)
    {
        CheckLinkName(name);
        int parentIndex = IndexOf(parent);
        WithFd(netns, fd =>
        {
            RtnlLowerLinks.CreateIpvlan(_request, NextSequence(), name, parentIndex, mode, fd, mtu);
            Acknowledge("ipvlan", name, $"on parent '{parent}'");
        });
    }

    // The fd stays referenced until the kernel has answered: it is read when the request is processed.
    private static void WithFd(SafeHandle handle, Action<int> use)
    {
        bool added = false;
        handle.DangerousAddRef(ref added);
        try { use((int)handle.DangerousGetHandle()); }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }
}
