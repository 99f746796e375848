using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace MiniDocker.Linux.Tests;

/// <summary>
/// Every constant <see cref="Libc"/> uses, for x86_64 and for arm64, against what each architecture's C headers say
/// (scripts/uapi-constants.sh compiles them with gcc and Debian's aarch64 cross gcc). The values taken from Tmds.LibC
/// are read from its per-architecture assemblies (runtimes/linux-x64 and runtimes/linux-arm64), the others from
/// <see cref="NativeConstants"/>: an arm64 build must not make x86_64's system calls (O_DIRECTORY there is O_DIRECT).
/// </summary>
public sealed class LinuxConstantsTests
{
    public static TheoryData<string, string> Architectures => new() { { "x86_64", "linux-x64" }, { "aarch64", "linux-arm64" } };

    /// <summary>Libc's fields, each with where its value comes from.</summary>
    private static IEnumerable<FieldInfo> LibcConstants() => typeof(Libc)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.IsInitOnly && (f.FieldType.IsPrimitive));

    [Theory]
    [MemberData(nameof(Architectures))]
    public void Every_constant_matches_the_architectures_headers(string arch, string rid)
    {
        var tmds = LoadTmds(rid);
        var table = arch == "x86_64" ? NativeConstants.X64 : NativeConstants.Arm64;
        var ours = new Dictionary<string, long>();
        foreach (var field in LibcConstants())
        {
            object? value = typeof(NativeConstants).GetProperty(field.Name) is { } fromTable
                ? fromTable.GetValue(table)
                : tmds.GetProperty(field.Name, BindingFlags.Public | BindingFlags.Static)?.GetValue(null)
                  ?? throw new InvalidOperationException($"{field.Name}: neither in NativeConstants nor in Tmds.LibC ({rid})");
            long v = ToInt64(value!);
            // ioctl numbers have the top bit set: a 32-bit field holds them as its 32 bits, as C's unsigned int does.
            ours[field.Name] = Marshal.SizeOf(field.FieldType) <= 4 ? unchecked((uint)v) : v;
        }
        // Every NativeConstants member is used through Libc, so each is checked above.
        foreach (var property in typeof(NativeConstants).GetProperties().Where(p => p.PropertyType.IsPrimitive))
            Assert.Contains(property.Name, ours.Keys);

        var headers = Headers(arch, ours.Keys).ToDictionary(kv => kv.Key,
            kv => Marshal.SizeOf(LibcConstants().First(f => f.Name == kv.Key).FieldType) <= 4 ? unchecked((uint)kv.Value) : kv.Value);
        var wrong = ours.Where(kv => headers[kv.Key] != kv.Value).Select(kv => $"{kv.Key}: ours {kv.Value}, headers {headers[kv.Key]}");
        Assert.Empty(wrong);
    }

    [Fact]
    public void The_two_architectures_really_differ_where_the_kernel_says_so()
    {
        Assert.Equal(155, NativeConstants.X64.SYS_pivot_root);
        Assert.Equal(41, NativeConstants.Arm64.SYS_pivot_root);
        Assert.Equal(0x10000, ToInt64(LoadTmds("linux-x64").GetProperty("O_DIRECTORY")!.GetValue(null)!));
        Assert.Equal(0x4000, ToInt64(LoadTmds("linux-arm64").GetProperty("O_DIRECTORY")!.GetValue(null)!));
        Assert.Same(RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? NativeConstants.Arm64 : NativeConstants.X64,
            NativeConstants.Current);
    }

    private static long ToInt64(object value) => value switch
    {
        int i => i,
        long l => l,
        short s => s,
        byte b => b,
        uint u => u,
        ulong ul => (long)ul,
        // Tmds.LibC's own integer structs (ulong_t, mode_t...) convert explicitly.
        _ => Convert.ToInt64(value.GetType().GetMethods(BindingFlags.Public | BindingFlags.Static)
                 .First(m => m.Name is "op_Explicit" or "op_Implicit" && m.ReturnType.IsPrimitive && m.GetParameters()[0].ParameterType == value.GetType())
                 .Invoke(null, [value])),
    };

    /// <summary>Tmds.LibC's assembly for <paramref name="rid"/>, from the NuGet package the build restored.</summary>
    private static Type LoadTmds(string rid)
    {
        string packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p ? p
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var version = typeof(Tmds.Linux.LibC).Assembly.GetName().Version!;
        string path = Path.Combine(packages, "tmds.libc", $"{version.Major}.{version.Minor}.{version.Build}", "runtimes", rid,
            "lib", "netstandard2.0", "Tmds.LibC.dll");
        var context = new AssemblyLoadContext($"tmds-{rid}", isCollectible: true);
        return context.LoadFromAssemblyPath(path).GetType("Tmds.Linux.LibC", throwOnError: true)!;
    }

    private static Dictionary<string, long> Headers(string arch, IEnumerable<string> names)
    {
        string script = Path.Combine(RepoRoot(), "scripts", "uapi-constants.sh");
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { script, arch }.Concat(names)) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        string output = process.StandardOutput.ReadToEnd(), errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"uapi-constants.sh {arch} failed: {errors}");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' '))
            .ToDictionary(f => f[0], f => long.Parse(f[1]));
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "MiniDocker.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("cannot find the repository root");
    }
}
