using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace MiniDocker.Network;

/// <summary>
/// An IPv4 network in CIDR form. Always normalised: host bits of <see cref="Network"/> are zero, so two equal
/// networks compare equal and <see cref="ToString"/> round-trips through <see cref="Parse"/>.
/// </summary>
public readonly record struct Subnet
{
    /// <summary>Network address as a host-order integer (10.20.0.0 is 0x0A140000).</summary>
    private readonly uint _network;

    public int Prefix { get; }

    private Subnet(uint network, int prefix)
    {
        _network = network;
        Prefix = prefix;
    }

    /// <summary>Builds the network that contains <paramref name="address"/> (host bits are cleared), e.g. for host routes.</summary>
    public static Subnet Containing(IPAddress address, int prefix)
    {
        if (address.AddressFamily != AddressFamily.InterNetwork)
            throw new NetworkException($"address {address} is not IPv4");
        if (prefix is < 0 or > 32)
            throw new NetworkException($"invalid prefix length {prefix} for {address}: must be 0-32");
        return new Subnet(ToUInt32(address) & MaskOf(prefix), prefix);
    }

    /// <summary>
    /// Parses "10.20.0.0/24". Rejects IPv6, missing or out-of-range prefixes, and host bits (the error then says
    /// which network was probably meant) rather than silently rounding, so a typo cannot produce a different network.
    /// </summary>
    public static Subnet Parse(string text)
    {
        int slash = text.IndexOf('/');
        if (slash < 0)
            throw new NetworkException($"invalid subnet '{text}': expected CIDR form ADDRESS/PREFIX, e.g. 10.20.0.0/24");
        string addressText = text[..slash];
        string prefixText = text[(slash + 1)..];
        if (!IPAddress.TryParse(addressText, out IPAddress? address))
            throw new NetworkException($"invalid subnet '{text}': '{addressText}' is not an IP address");
        if (address.AddressFamily != AddressFamily.InterNetwork)
            throw new NetworkException($"invalid subnet '{text}': only IPv4 is supported");
        // IPAddress.TryParse accepts "10.20" and "167772160" as IPv4; a subnet must be written as a dotted quad.
        if (addressText.Count(c => c == '.') != 3)
            throw new NetworkException($"invalid subnet '{text}': '{addressText}' is not a dotted-quad IPv4 address");
        if (!int.TryParse(prefixText, System.Globalization.NumberStyles.None, null, out int prefix) || prefix > 32)
            throw new NetworkException($"invalid subnet '{text}': prefix '{prefixText}' must be a number 0-32");
        Subnet subnet = Containing(address, prefix);
        if (subnet._network != ToUInt32(address))
            throw new NetworkException($"invalid subnet '{text}': host bits are set, did you mean {subnet}?");
        return subnet;
    }

    public IPAddress Network => FromUInt32(_network);

    public IPAddress Broadcast => FromUInt32(_network | ~MaskOf(Prefix));

    /// <summary>Number of addresses including the network and broadcast address (2^(32-prefix)).</summary>
    public long Size => 1L << (32 - Prefix);

    /// <summary>The first usable host address, Docker's default gateway.</summary>
    public IPAddress FirstHost => AddressAt(1);

    public bool Contains(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetwork && (ToUInt32(address) & MaskOf(Prefix)) == _network;

    public bool Overlaps(Subnet other)
    {
        uint commonMask = MaskOf(Math.Min(Prefix, other.Prefix));
        return (_network & commonMask) == (other._network & commonMask);
    }

    /// <summary>The address <paramref name="offset"/> positions after the network address.</summary>
    public IPAddress AddressAt(long offset)
    {
        if (offset < 0 || offset >= Size)
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"outside {this}");
        return FromUInt32(_network + (uint)offset);
    }

    /// <summary>Position of <paramref name="address"/> after the network address; the address must be inside.</summary>
    public long OffsetOf(IPAddress address)
    {
        if (!Contains(address))
            throw new ArgumentException($"{address} is outside {this}", nameof(address));
        return ToUInt32(address) - _network;
    }

    public override string ToString() => $"{Network}/{Prefix}";

    private static uint MaskOf(int prefix) => prefix == 0 ? 0u : uint.MaxValue << (32 - prefix);

    internal static uint ToUInt32(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[4];
        if (address.AddressFamily != AddressFamily.InterNetwork || !address.TryWriteBytes(bytes, out _))
            throw new NetworkException($"address {address} is not IPv4");
        return BinaryPrimitives.ReadUInt32BigEndian(bytes);
    }

    private static IPAddress FromUInt32(uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return new IPAddress(bytes);
    }
}
