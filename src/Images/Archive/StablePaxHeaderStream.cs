using System.Text;

namespace MiniDocker.Images.Archive;

/// <summary>
/// A write-only filter over a tar stream that gives every PAX extended header (typeflag 'x') the same name,
/// <c>PaxHeaders.0/entry</c>. .NET's TarWriter names them <c>DIR/PaxHeaders.&lt;PID&gt;/NAME</c>, so the same tree
/// tarred by two processes differed in those bytes and a re-tarred layer never had the same digest twice (push and
/// save need the same bytes for the same tree). The name of an extended header is informational (POSIX leaves it to
/// the implementation; readers take the path from its records), so nothing a reader sees changes.
/// </summary>
internal sealed class StablePaxHeaderStream(Stream inner) : Stream
{
    private const int Block = 512;
    private static readonly byte[] StableName = Encoding.ASCII.GetBytes("PaxHeaders.0/entry");
    private readonly byte[] _pending = new byte[Block];
    private int _filled;
    private long _dataBlocksLeft; // blocks of entry content still to pass through untouched

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        while (buffer.Length > 0)
        {
            var n = Math.Min(Block - _filled, buffer.Length);
            buffer[..n].CopyTo(_pending.AsSpan(_filled));
            _filled += n;
            buffer = buffer[n..];
            if (_filled < Block)
                return;
            _filled = 0;
            if (_dataBlocksLeft > 0)
                _dataBlocksLeft--;
            else
                Header(_pending);
            inner.Write(_pending);
        }
    }

    /// <summary>A header block (or the end-of-archive zeros): renames an extended header, and notes how many content blocks follow.</summary>
    private void Header(byte[] block)
    {
        if (block.AsSpan().IndexOfAnyExcept((byte)0) < 0)
            return;
        var type = block[156];
        if (type is (byte)'x')
        {
            block.AsSpan(0, 100).Clear();
            StableName.CopyTo(block, 0);
            block.AsSpan(345, 155).Clear(); // ustar prefix
            WriteChecksum(block);
        }
        // Links, directories, devices and fifos carry no content even when a size is set.
        if (type is (byte)'1' or (byte)'2' or (byte)'3' or (byte)'4' or (byte)'5' or (byte)'6')
            return;
        _dataBlocksLeft = (Size(block) + Block - 1) / Block;
    }

    private static long Size(byte[] block)
    {
        var field = block.AsSpan(124, 12);
        if ((field[0] & 0x80) != 0)
        {
            long value = 0; // base-256 (GNU) for sizes past 8 GiB
            for (var i = 1; i < field.Length; i++)
                value = (value << 8) | field[i];
            return value;
        }
        long octal = 0;
        foreach (var c in field)
        {
            if (c is < (byte)'0' or > (byte)'7')
            {
                if (octal > 0 || c is 0)
                    break;
                continue; // leading spaces
            }
            octal = octal * 8 + (c - '0');
        }
        return octal;
    }

    private static void WriteChecksum(byte[] block)
    {
        block.AsSpan(148, 8).Fill((byte)' ');
        var sum = 0;
        foreach (var b in block)
            sum += b;
        var text = Encoding.ASCII.GetBytes(Convert.ToString(sum, 8).PadLeft(6, '0'));
        text.CopyTo(block, 148);
        block[154] = 0;
        block[155] = (byte)' ';
    }

    public override void Flush() => inner.Flush();
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
