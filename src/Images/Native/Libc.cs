using System.Runtime.InteropServices;
using Tmds.Linux;

namespace MiniDocker.Images.Native;

/// <summary>
/// The libc calls the image store makes. Declared here with source-generated marshalling rather than taken
/// from Tmds.LibC so that paths marshal as UTF-8 strings and errno is captured by the marshaller
/// (SetLastError) immediately after the call; Tmds.Linux still supplies the kernel struct layouts.
/// </summary>
internal static unsafe partial class Libc
{
    private const string Lib = "libc";

    public const int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0x40, O_EXCL = 0x80,
        O_DIRECTORY = 0x10000, O_NOFOLLOW = 0x20000, O_CLOEXEC = 0x80000, O_PATH = 0x200000;
    public const int AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100, AT_REMOVEDIR = 0x200;
    public const int S_IFMT = 0xF000, S_IFDIR = 0x4000, S_IFLNK = 0xA000;
    public const long UTIME_OMIT = (1L << 30) - 2;
    public const int LOCK_EX = 2;
    public const int ENOENT = 2, EINTR = 4, ENOTDIR = 20, EISDIR = 21, ENOTEMPTY = 39, ELOOP = 40;
    // d_type values of getdents64 (the same on every architecture).
    public const byte DT_UNKNOWN = 0, DT_DIR = 4;

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int openat(int dirfd, string path, int flags, uint mode);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mkdirat(int dirfd, string path, uint mode);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int symlinkat(string target, int newdirfd, string linkpath);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int linkat(int olddirfd, string oldpath, int newdirfd, string newpath, int flags);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int unlinkat(int dirfd, string path, int flags);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int fchownat(int dirfd, string path, uint uid, uint gid, int flags);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int utimensat(int dirfd, string path, timespec* times, int flags);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int fstatat(int dirfd, string path, stat* buf, int flags);
    // Raw-name overloads, for names read back from the disk (see FileTree): no string round trip.
    [LibraryImport(Lib, SetLastError = true)]
    public static partial int openat(int dirfd, byte* path, int flags, uint mode);
    [LibraryImport(Lib, SetLastError = true)]
    public static partial int unlinkat(int dirfd, byte* path, int flags);
    [LibraryImport(Lib, SetLastError = true)]
    public static partial int fstatat(int dirfd, byte* path, stat* buf, int flags);
    [LibraryImport(Lib, SetLastError = true)] public static partial int fchown(int fd, uint uid, uint gid);
    [LibraryImport(Lib, SetLastError = true)] public static partial int fchmod(int fd, uint mode);
    [LibraryImport(Lib, SetLastError = true)] public static partial int futimens(int fd, timespec* times);
    [LibraryImport(Lib, SetLastError = true)] public static partial int fsync(int fd);
    [LibraryImport(Lib, SetLastError = true)] public static partial int syncfs(int fd);
    [LibraryImport(Lib, SetLastError = true)] public static partial int flock(int fd, int operation);
    [LibraryImport(Lib, SetLastError = true)] public static partial nint write(int fd, byte* buf, nint count);
    [LibraryImport(Lib, SetLastError = true)] public static partial int close(int fd);
    /// <summary>Directory entries as struct linux_dirent64 records (one layout on every 64-bit architecture).</summary>
    [LibraryImport(Lib, SetLastError = true)] public static partial nint getdents64(int fd, byte* buf, nint count);

    /// <summary>Turns a -1 return into an <see cref="ImageException"/> naming the call and the object.</summary>
    public static int Check(int result, string call, string target)
    {
        if (result == -1)
            throw Error(call, target, Marshal.GetLastPInvokeError());
        return result;
    }

    public static ImageException Error(string call, string target, int errno) =>
        new($"{call} '{Display.Name(target)}': {Marshal.GetPInvokeErrorMessage(errno)}");

    public static int LastErrno => Marshal.GetLastPInvokeError();
}
