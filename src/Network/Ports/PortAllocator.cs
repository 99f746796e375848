using System.Net;
using System.Net.Sockets;

namespace MiniDocker.Network;

/// <summary>
/// Chooses and checks host ports for -p mappings. A host port is refused when another container already
/// publishes it (the caller passes those mappings) or a host process has it bound (probed by binding a socket
/// of the same protocol on the same address and closing it again).
/// </summary>
public sealed class PortAllocator
{
    private const string EphemeralRangeFile = "/proc/sys/net/ipv4/ip_local_port_range";

    private readonly int _low;
    private readonly int _high;

    /// <summary>Picks ports for "-p CTR" from the kernel's ephemeral range, as Docker does.</summary>
    public PortAllocator() : this(ReadEphemeralRange()) { }

    public PortAllocator(int low, int high)
    {
        if (low < 1 || high > 65535 || low > high)
            throw new ArgumentOutOfRangeException(nameof(low), $"invalid port range {low}-{high}");
        _low = low;
        _high = high;
    }

    private PortAllocator((int Low, int High) range) : this(range.Low, range.High) { }

    /// <summary>
    /// Returns <paramref name="requested"/> with every HostPort 0 replaced by a free ephemeral port, after checking
    /// every fixed host port. Mappings of the same request count against each other too, so "-p 80:80 -p 80:81"
    /// fails like Docker. Throws "port 8080/tcp is already allocated" on the first conflict.
    /// </summary>
    public IReadOnlyList<PortMapping> Assign(IReadOnlyList<PortMapping> requested, IReadOnlyList<PortMapping> publishedByOthers)
    {
        var taken = new List<PortMapping>(publishedByOthers);
        var assigned = new List<PortMapping>(requested.Count);
        // Fixed ports first, so an automatic pick cannot steal a port that a later flag of the same request names.
        foreach (PortMapping mapping in requested.Where(m => m.HostPort != 0))
        {
            if (taken.Any(t => Conflicts(t, mapping)) || !IsFreeOnHost(mapping.HostIp, mapping.HostPort, mapping.Protocol))
                throw new NetworkException($"port {mapping.HostPort}/{mapping.Protocol} is already allocated");
            taken.Add(mapping);
        }
        foreach (PortMapping mapping in requested)
        {
            PortMapping result = mapping.HostPort != 0 ? mapping : mapping with { HostPort = PickFree(mapping, taken) };
            if (mapping.HostPort == 0)
                taken.Add(result);
            assigned.Add(result);
        }
        return assigned;
    }

    private int PickFree(PortMapping mapping, List<PortMapping> taken)
    {
        int count = _high - _low + 1;
        // A random start spreads containers over the range and makes two concurrent "run"s unlikely to probe
        // the same port first (the final arbiter is still the caller's check against published ports).
        int start = Random.Shared.Next(count);
        for (int i = 0; i < count; i++)
        {
            int port = _low + (start + i) % count;
            PortMapping candidate = mapping with { HostPort = port };
            if (!taken.Any(t => Conflicts(t, candidate)) && IsFreeOnHost(mapping.HostIp, port, mapping.Protocol))
                return port;
        }
        throw new NetworkException(
            $"no free host port for {mapping.ContainerPort}/{mapping.Protocol} in range {_low}-{_high}");
    }

    /// <summary>Two mappings collide on the same protocol and port unless they name two different host addresses.</summary>
    private static bool Conflicts(PortMapping a, PortMapping b) =>
        a.Protocol == b.Protocol
        && a.HostPort == b.HostPort
        && (a.HostIp is null || b.HostIp is null || a.HostIp.Equals(b.HostIp));

    private static bool IsFreeOnHost(IPAddress? hostIp, int port, string protocol)
    {
        using var socket = protocol == "udp"
            ? new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp)
            : new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(hostIp ?? IPAddress.Any, port));
            return true;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            return false;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressNotAvailable)
        {
            throw new NetworkException($"cannot publish on {hostIp}: not an address of this host");
        }
        catch (SocketException e)
        {
            throw new NetworkException($"cannot probe host port {hostIp ?? IPAddress.Any}:{port}/{protocol}: {e.Message}");
        }
    }

    private static (int Low, int High) ReadEphemeralRange()
    {
        string[] fields = File.ReadAllText(EphemeralRangeFile).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length != 2 || !int.TryParse(fields[0], out int low) || !int.TryParse(fields[1], out int high))
            throw new NetworkException($"cannot parse {EphemeralRangeFile}: '{string.Join(' ', fields)}'");
        return (low, high);
    }
}
