using System.Net;
using System.Net.Sockets;

namespace MiniDocker.Network;

internal static class Ipv4
{
    /// <summary>
    /// Parses a dotted-quad IPv4 address. IPAddress.Parse alone would also take "10.5" or "167772165" (and IPv6),
    /// which in a network config is always a typo.
    /// </summary>
    public static IPAddress Parse(string text, string what)
    {
        if (!IPAddress.TryParse(text, out IPAddress? address))
            throw new NetworkException($"invalid {what} '{text}': not an IPv4 address");
        if (address.AddressFamily != AddressFamily.InterNetwork)
            throw new NetworkException($"invalid {what} '{text}': only IPv4 is supported");
        if (text.Count(c => c == '.') != 3)
            throw new NetworkException($"invalid {what} '{text}': not a dotted-quad IPv4 address");
        return address;
    }
}
