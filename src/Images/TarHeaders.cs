using System.Text;

namespace MiniDocker.Images;

/// <summary>
/// What System.Formats.Tar does not check in the header blocks it reads. It never verifies a header's checksum
/// (a damaged header is parsed as whatever its bytes say), and it takes any header whose checksum field is zero or
/// empty for the end of the archive, so one damaged block silently truncated an import. GNU tar reports both
/// ("Skipping to next header", exit 2); so do we, by checking every block the reader consumed as a header.
/// </summary>
internal static class TarHeaders
{
    public const int BlockSize = 512;
    private const int ChecksumOffset = 148, ChecksumLength = 8, SizeOffset = 124, SizeLength = 12, TypeOffset = 156;

    /// <summary>
    /// GNU tar's rule: the stored octal number equals the sum of the block's bytes with the checksum field counted
    /// as spaces, summed as unsigned bytes (POSIX) or, as some old tars wrote it, as signed bytes.
    /// </summary>
    public static bool HasValidChecksum(ReadOnlySpan<byte> block)
    {
        if (block.Length < BlockSize)
            return false;
        var field = block.Slice(ChecksumOffset, ChecksumLength);
        var digits = field.TrimStart((byte)' ');
        var end = digits.IndexOfAny((byte)0, (byte)' ');
        if (end >= 0)
        {
            if (digits[end..].IndexOfAnyExcept((byte)0, (byte)' ') >= 0)
                return false;
            digits = digits[..end];
        }
        if (digits.IsEmpty)
            return false;
        long stored = 0;
        foreach (var d in digits)
        {
            if (d is < (byte)'0' or > (byte)'7')
                return false;
            stored = stored * 8 + (d - '0');
        }
        long unsignedSum = 0, signedSum = 0;
        for (var i = 0; i < BlockSize; i++)
        {
            var b = i is >= ChecksumOffset and < ChecksumOffset + ChecksumLength ? (byte)' ' : block[i];
            unsignedSum += b;
            signedSum += (sbyte)b;
        }
        return stored == unsignedSum || stored == signedSum;
    }

    private static bool IsZeroBlock(ReadOnlySpan<byte> block) => block.IndexOfAnyExcept((byte)0) < 0;

    private static bool IsMetadata(byte type) => type is (byte)'x' or (byte)'g' or (byte)'L' or (byte)'K';

    /// <summary>Length of a block-padded data section.</summary>
    public static long Padded(long size) => (size + BlockSize - 1) / BlockSize * BlockSize;

    /// <summary>
    /// Checks the bytes the reader consumed while finding one entry or the end of the archive:
    /// <paramref name="padding"/> bytes that pad the previous entry's data, then metadata entries (PAX 'x'/'g',
    /// GNU 'L'/'K') with their data, then the entry's own header or an end-of-archive block. Blocks cut short
    /// (an archive that ends early) are left to the reader, which reports the truncation.
    /// </summary>
    /// <param name="offset">the archive offset of <paramref name="consumed"/>[0], for the message.</param>
    /// <param name="previous">the previous entry's name, to say where the damage is.</param>
    public static void Verify(ReadOnlySpan<byte> consumed, int padding, long offset, string? previous)
    {
        long position = padding;
        var afterMetadata = false;
        while (position + BlockSize <= consumed.Length)
        {
            var block = consumed.Slice((int)position, BlockSize);
            if (IsZeroBlock(block))
            {
                if (afterMetadata)
                    throw Damaged("an extended header is followed by the end of the archive", offset + position, previous);
                return;
            }
            if (!HasValidChecksum(block))
                throw Damaged("bad header checksum", offset + position, previous);
            if (!IsMetadata(block[TypeOffset]))
                return;
            position += BlockSize + Padded(ParseOctal(block.Slice(SizeOffset, SizeLength)) ?? 0);
            afterMetadata = true;
        }
    }

    private static ImageException Damaged(string what, long at, string? previous) =>
        at == 0
            ? new($"not a valid tar archive: {what} at byte 0") // GNU tar: "This does not look like a tar archive"
            : new($"the archive is damaged: {what} at byte {at}" +
                  (previous is null ? "" : $" (after entry '{Display.Name(previous)}')"));

    private static long? ParseOctal(ReadOnlySpan<byte> field)
    {
        field = field.Trim((byte)' ').TrimEnd((byte)0).TrimEnd((byte)' ');
        long value = 0;
        foreach (var d in field)
        {
            if (d is < (byte)'0' or > (byte)'7')
                return null;
            value = value * 8 + (d - '0');
        }
        return value;
    }

    /// <summary>
    /// Why the reader overflowed, for the message: a PAX numeric record (uid, gid...) outside the 32-bit signed
    /// range System.Formats.Tar holds, found in the metadata entries among <paramref name="consumed"/>.
    /// </summary>
    public static string? DescribeOverflow(ReadOnlySpan<byte> consumed, int padding)
    {
        long position = padding;
        string? path = null;
        string? problem = null;
        while (position + BlockSize <= consumed.Length)
        {
            var block = consumed.Slice((int)position, BlockSize);
            var size = ParseOctal(block.Slice(SizeOffset, SizeLength)) ?? 0;
            var dataStart = position + BlockSize;
            if (block[TypeOffset] is (byte)'x' && dataStart + size <= consumed.Length)
            {
                foreach (var (key, value) in PaxRecords(consumed.Slice((int)dataStart, (int)size)))
                {
                    if (key == "path")
                        path = value;
                    else if (key is "uid" or "gid" or "mode" or "devmajor" or "devminor" && !int.TryParse(value, out _))
                        problem ??= $"{key} {value} is out of range (0-{int.MaxValue})";
                }
            }
            else if (!IsMetadata(block[TypeOffset]))
            {
                path ??= Encoding.UTF8.GetString(block[..100].TrimEnd((byte)0));
                break;
            }
            position = dataStart + Padded(size);
        }
        return problem is null ? null : path is null ? problem : $"entry '{Display.Name(path)}': {problem}";
    }

    /// <summary>PAX records: "LENGTH KEY=VALUE\n", LENGTH counting the whole record.</summary>
    private static List<(string Key, string Value)> PaxRecords(ReadOnlySpan<byte> data)
    {
        var records = new List<(string, string)>();
        while (!data.IsEmpty)
        {
            var space = data.IndexOf((byte)' ');
            if (space <= 0 || !int.TryParse(data[..space], out var length) || length <= space || length > data.Length)
                break;
            var record = Encoding.UTF8.GetString(data[(space + 1)..(length - 1)]);
            var eq = record.IndexOf('=');
            if (eq > 0)
                records.Add((record[..eq], record[(eq + 1)..]));
            data = data[length..];
        }
        return records;
    }
}
