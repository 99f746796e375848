using System.Runtime.InteropServices;
using System.Text;

namespace MiniDocker.Netlink;

/// <summary>One message inside a received datagram.</summary>
internal readonly ref struct NetlinkMessage
{
    public NetlinkMessage(ushort type, ushort flags, uint sequence, ReadOnlySpan<byte> payload)
    {
        Type = type;
        Flags = flags;
        Sequence = sequence;
        Payload = payload;
    }

    public ushort Type { get; }
    public ushort Flags { get; }
    public uint Sequence { get; }
    public ReadOnlySpan<byte> Payload { get; }
}

/// <summary>Walks the nlmsghdr-framed messages of one datagram; a datagram may hold several.</summary>
internal ref struct NetlinkMessageEnumerator
{
    private ReadOnlySpan<byte> _rest;

    public NetlinkMessageEnumerator(ReadOnlySpan<byte> datagram)
    {
        _rest = datagram;
        Current = default;
    }

    public NetlinkMessage Current { get; private set; }

    public readonly NetlinkMessageEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        if (_rest.Length < Rtnl.HeaderLength)
            return false;
        var length = (int)NetlinkBytes.UInt32(_rest);
        if (length < Rtnl.HeaderLength || length > _rest.Length)
            throw new InvalidDataException($"netlink message length {length} does not fit the {_rest.Length} bytes left in the datagram");
        Current = new NetlinkMessage(
            NetlinkBytes.UInt16(_rest[4..]),
            NetlinkBytes.UInt16(_rest[6..]),
            NetlinkBytes.UInt32(_rest[8..]),
            _rest[Rtnl.HeaderLength..length]);
        _rest = _rest[Math.Min(NetlinkMessageBuilder.Align(length), _rest.Length)..];
        return true;
    }
}

/// <summary>One attribute: its type with the NLA_F_NESTED / NLA_F_NET_BYTEORDER bits cleared, and its payload.</summary>
internal readonly ref struct NetlinkAttribute
{
    public NetlinkAttribute(ushort type, ReadOnlySpan<byte> payload)
    {
        Type = type;
        Payload = payload;
    }

    public ushort Type { get; }
    public ReadOnlySpan<byte> Payload { get; }

    public uint UInt32() => Payload.Length >= 4 ? NetlinkBytes.UInt32(Payload) : throw Malformed();

    public string String()
    {
        var end = Payload.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? Payload : Payload[..end]);
    }

    public NetlinkAttributeEnumerator Nested() => new(Payload);

    private InvalidDataException Malformed() => new($"netlink attribute {Type} has {Payload.Length} bytes, fewer than its type needs");
}

internal ref struct NetlinkAttributeEnumerator
{
    private ReadOnlySpan<byte> _rest;

    public NetlinkAttributeEnumerator(ReadOnlySpan<byte> attributes)
    {
        _rest = attributes;
        Current = default;
    }

    public NetlinkAttribute Current { get; private set; }

    public readonly NetlinkAttributeEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        if (_rest.Length < 4)
            return false;
        var length = NetlinkBytes.UInt16(_rest);
        if (length < 4 || length > _rest.Length)
            throw new InvalidDataException($"netlink attribute length {length} does not fit the {_rest.Length} bytes left");
        Current = new NetlinkAttribute((ushort)(NetlinkBytes.UInt16(_rest[2..]) & Rtnl.NlaTypeMask), _rest[4..length]);
        _rest = _rest[Math.Min(NetlinkMessageBuilder.Align(length), _rest.Length)..];
        return true;
    }
}

/// <summary>Host-byte-order reads, as netlink headers and integer attributes are laid out.</summary>
internal static class NetlinkBytes
{
    public static ushort UInt16(ReadOnlySpan<byte> s) => MemoryMarshal.Read<ushort>(s);
    public static uint UInt32(ReadOnlySpan<byte> s) => MemoryMarshal.Read<uint>(s);
    public static int Int32(ReadOnlySpan<byte> s) => MemoryMarshal.Read<int>(s);
}
