using MiniDocker.Linux;
using MiniDocker.Runtime.Userns;
using static MiniDocker.Linux.Libc;

namespace MiniDocker.Runtime.Volumes;

/// <summary>
/// Podman's chown of a volume for a user namespace: what is in a new volume is owned by the ids the container is meant
/// to see (root for _data itself, the image's owners after copy-up), and is moved once into the container's range
/// (host id = range start + id, for ids below the range's size; any other id is left as it is), so its root owns what
/// root owned in the image.
/// </summary>
/// <remarks>
/// Nothing is followed and nothing is reached by name twice: each entry is opened O_PATH|O_NOFOLLOW and examined and
/// changed through that descriptor (statx and fchownat with AT_EMPTY_PATH), so a symlink (copied from a hostile
/// image, or planted) is chowned itself and its target never; a directory is entered through its own descriptor
/// ("." of the O_PATH one), so a name swapped for a symlink meanwhile cannot lead the walk out. An entry on another
/// mount (its statx mount id differs: a mount point inside _data, bind mounts of the same filesystem included) is
/// left alone with everything under it. A file with several links is shifted once.
/// </remarks>
internal static unsafe class VolumeOwnership
{
    private const uint SetIdBits = 0b110_000_000_000; // S_ISUID | S_ISGID: chown clears them on a regular file
    private static readonly byte[] Empty = [0], Dot = [(byte)'.', 0]; // NUL-terminated, for the raw-name calls

    public static void ShiftIntoRange(string data, IdMapping ids)
    {
        using var root = Fd.Open(data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        var st = Stat(root);
        var shifted = new HashSet<ulong>();
        Walk(root, st.MntId, ids, shifted);
        Shift(root, st, ids);
    }

    /// <summary>The in-container id <paramref name="id"/>'s host id in a range starting at <paramref name="start"/>.</summary>
    public static uint Shifted(uint id, long start, long size) => id < size ? (uint)(start + id) : id;

    private static void Walk(Fd directory, ulong mountId, IdMapping ids, HashSet<ulong> shifted)
    {
        foreach (var (name, _) in DirectoryEntries.Read(directory))
        {
            string display = Path.Combine(directory.Name, System.Text.Encoding.UTF8.GetString(name));
            using var entry = OpenAt(directory, DirectoryEntries.NulTerminated(name), O_PATH | O_NOFOLLOW, display);
            if (entry is null) continue; // gone meanwhile
            var st = Stat(entry);
            if (st.MntId != mountId) continue; // another mount's files are not the volume's
            int type = st.Mode & S_IFMT;
            if (type == S_IFDIR)
            {
                using var sub = OpenAt(entry, Dot, O_RDONLY | O_DIRECTORY, display)
                    ?? throw new SyscallException("open", display, ENOENT);
                Walk(sub, mountId, ids, shifted);
                Shift(sub, st, ids);
                continue;
            }
            if (st.Nlink > 1 && !shifted.Add(st.Ino)) continue; // a second name of a file already shifted
            Shift(entry, st, ids);
        }
    }

    private static void Shift(Fd fd, Statx st, IdMapping ids)
    {
        uint uid = Shifted(st.Uid, ids.HostUid, ids.Size), gid = Shifted(st.Gid, ids.HostGid, ids.Size);
        if (uid == st.Uid && gid == st.Gid) return;
        fixed (byte* empty = Empty)
            Check(fchownat(fd.Value, empty, uid, gid, AT_EMPTY_PATH), "chown", fd.Name);
        // chown took a setuid or setgid bit off: give it back through the descriptor (the /proc magic link is the
        // very inode, whatever is at the name now).
        if ((st.Mode & S_IFMT) == S_IFREG && (st.Mode & SetIdBits) != 0)
            Check(chmod($"/proc/self/fd/{fd.Value}", st.Mode & 0xFFF), "chmod", fd.Name);
    }

    private static Statx Stat(Fd fd)
    {
        Statx st;
        fixed (byte* empty = Empty)
            Check(statx(fd.Value, empty, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
                STATX_TYPE | STATX_MODE | STATX_NLINK | STATX_UID | STATX_GID | STATX_INO | STATX_MNT_ID, &st), "statx", fd.Name);
        if ((st.Mask & STATX_MNT_ID) == 0)
            throw new ContainerException($"statx gives no mount id for {fd.Name} (Linux 5.8 or later is needed)");
        return st;
    }

    private static Fd? OpenAt(Fd directory, byte[] name, int flags, string display)
    {
        fixed (byte* p = name)
        {
            int fd = openat(directory.Value, p, flags | O_CLOEXEC, 0);
            if (fd >= 0) return new Fd(fd, display);
            int errno = LastErrno;
            if (errno == ENOENT) return null;
            throw new SyscallException("open", display, errno);
        }
    }
}
