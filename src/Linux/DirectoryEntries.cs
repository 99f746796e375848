namespace MiniDocker.Linux;

/// <summary>getdents64 on an open directory: walks that must not follow a name twice (a symlink swapped in between a
/// path-based listing and the open) list the descriptor they hold.</summary>
public static unsafe class DirectoryEntries
{
    /// <summary>The entries of an open directory (without "." and ".."): raw names and getdents64's d_type.</summary>
    public static List<(byte[] Name, byte Type)> Read(Fd directory)
    {
        var entries = new List<(byte[], byte)>();
        var buffer = new byte[32 * 1024];
        fixed (byte* start = buffer)
        {
            while (true)
            {
                var n = Libc.getdents64(directory.Value, start, buffer.Length);
                if (n < 0)
                {
                    var errno = Libc.LastErrno;
                    if (errno == Libc.EINTR)
                        continue;
                    throw new SyscallException("getdents64", directory.Name, errno);
                }
                if (n == 0)
                    return entries;
                // struct linux_dirent64: u64 d_ino, s64 d_off, u16 d_reclen, u8 d_type, char d_name[] (NUL-terminated).
                for (nint offset = 0; offset < n;)
                {
                    var record = start + offset;
                    var length = *(ushort*)(record + 16);
                    var name = new ReadOnlySpan<byte>(record + 19, length - 19);
                    name = name[..name.IndexOf((byte)0)];
                    if (!name.SequenceEqual("."u8) && !name.SequenceEqual(".."u8))
                        entries.Add((name.ToArray(), record[18]));
                    offset += length;
                }
            }
        }
    }

    /// <summary>A name read back from getdents64, NUL-terminated for the raw-name syscalls.</summary>
    public static byte[] NulTerminated(byte[] name)
    {
        var terminated = new byte[name.Length + 1];
        name.CopyTo(terminated, 0);
        return terminated;
    }
}
