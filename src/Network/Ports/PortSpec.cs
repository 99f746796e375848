using System.Net;
using System.Net.Sockets;

namespace MiniDocker.Network;

/// <summary>Docker's -p syntax: [[HOSTIP:][HOSTPORT[-END]]:]CONTAINERPORT[-END][/tcp|/udp].</summary>
public static class PortSpec
{
    /// <summary>
    /// Parses one -p value into its mappings: "8080:80", "127.0.0.1:8080:80", "127.0.0.1::80", "80" (host port
    /// chosen later, HostPort 0), "8000-8005:80-85" (six mappings), each with an optional "/udp" or "/tcp" suffix.
    /// </summary>
    public static IReadOnlyList<PortMapping> Parse(string spec)
    {
        string rest = spec;
        string protocol = "tcp";
        int slash = rest.LastIndexOf('/');
        if (slash >= 0)
        {
            string written = rest[(slash + 1)..];
            protocol = written.ToLowerInvariant();
            rest = rest[..slash];
            if (protocol is not ("tcp" or "udp"))
                throw new NetworkException($"unknown protocol '{written}'");
        }

        // A bracketed IPv6 host address ("[::1]:80:80") contains colons of its own; split it off first so the
        // error says "IPv4 only" instead of "too many colons".
        string? hostIpText = null;
        if (rest.StartsWith('['))
        {
            int close = rest.IndexOf("]:", StringComparison.Ordinal);
            if (close < 0)
                throw new NetworkException($"invalid port spec '{spec}': unterminated '[' in host IP");
            hostIpText = rest[..(close + 1)];
            rest = rest[(close + 2)..];
        }

        string[] parts = rest.Split(':');
        string? hostPortText;
        string containerPortText;
        switch (parts.Length)
        {
            case 1 when hostIpText is null:
                hostPortText = null;
                containerPortText = parts[0];
                break;
            case 2:
                hostPortText = parts[0];
                containerPortText = parts[1];
                break;
            case 3 when hostIpText is null:
                hostIpText = parts[0];
                hostPortText = parts[1];
                containerPortText = parts[2];
                break;
            default:
                throw new NetworkException(
                    $"invalid port spec '{spec}': expected [[HOSTIP:][HOSTPORT]:]CONTAINERPORT[/PROTOCOL]");
        }

        IPAddress? hostIp = hostIpText is null ? null : ParseHostIp(hostIpText);
        (int containerStart, int containerEnd) = ParseRange(containerPortText, spec);
        int count = containerEnd - containerStart + 1;
        int hostStart = 0;
        if (!string.IsNullOrEmpty(hostPortText))
        {
            (hostStart, int hostEnd) = ParseRange(hostPortText, spec);
            int hostCount = hostEnd - hostStart + 1;
            if (hostCount != count)
                throw new NetworkException(
                    $"invalid port spec '{spec}': host range {hostPortText} has {hostCount} ports but container range {containerPortText} has {count}");
        }

        var mappings = new List<PortMapping>(count);
        for (int i = 0; i < count; i++)
            mappings.Add(new PortMapping(hostIp, hostStart == 0 ? 0 : hostStart + i, containerStart + i, protocol));
        return mappings;
    }

    /// <summary>Parses every -p flag of one command line, in order.</summary>
    public static IReadOnlyList<PortMapping> ParseAll(IEnumerable<string> specs) => specs.SelectMany(Parse).ToList();

    private static IPAddress? ParseHostIp(string text)
    {
        string bare = text.StartsWith('[') && text.EndsWith(']') ? text[1..^1] : text;
        if (!IPAddress.TryParse(bare, out IPAddress? address))
            throw new NetworkException($"invalid host IP '{text}'");
        if (address.AddressFamily != AddressFamily.InterNetwork)
            throw new NetworkException($"invalid host IP '{text}': only IPv4 is supported");
        if (bare.Count(c => c == '.') != 3)
            throw new NetworkException($"invalid host IP '{text}': not a dotted-quad IPv4 address");
        // 0.0.0.0 is Docker's spelling of "all addresses", which this API spells null.
        return address.Equals(IPAddress.Any) ? null : address;
    }

    private static (int Start, int End) ParseRange(string text, string spec)
    {
        int dash = text.IndexOf('-');
        if (dash < 0)
        {
            int port = ParsePort(text, spec);
            return (port, port);
        }
        int start = ParsePort(text[..dash], spec);
        int end = ParsePort(text[(dash + 1)..], spec);
        if (end < start)
            throw new NetworkException($"invalid port range {text}: end is before start");
        return (start, end);
    }

    private static int ParsePort(string text, string spec)
    {
        if (text.Length == 0)
            throw new NetworkException($"invalid port spec '{spec}': missing port number");
        if (!long.TryParse(text, System.Globalization.NumberStyles.None, null, out long port))
            throw new NetworkException($"invalid port '{text}': not a number");
        if (port is < 1 or > 65535)
            throw new NetworkException($"invalid port {text}: must be 1-65535");
        return (int)port;
    }
}
