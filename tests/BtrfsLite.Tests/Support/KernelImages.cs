namespace BtrfsLite.Tests.Support;

/// <summary>A fact that needs root, loop devices and the kernel's btrfs (to let the kernel write an image); skipped otherwise.</summary>
public sealed class RequiresRootMountFactAttribute : FactAttribute
{
    public RequiresRootMountFactAttribute()
    {
        if (Needs.WhyNot(Need.BtrfsProgs, Need.RootLoopMount) is { } why) Skip = why;
    }
}

public sealed class RequiresRootMountTheoryAttribute : TheoryAttribute
{
    public RequiresRootMountTheoryAttribute()
    {
        if (Needs.WhyNot(Need.BtrfsProgs, Need.RootLoopMount) is { } why) Skip = why;
    }
}

/// <summary>Images written by the Linux kernel through a loop mount: files, subvolumes, snapshots, reflinks, COW after snapshot.</summary>
public static class KernelImages
{
    public static string? WhyNot()
    {
        if (!RealTools.HasBtrfsProgs) return "btrfs-progs not installed";
        if (!OperatingSystem.IsLinux()) return "needs Linux";
        if (Environment.UserName != "root") return "needs root to loop-mount";
        if (!File.Exists("/dev/loop-control")) return "no loop devices (/dev/loop-control)";
        if (RealTools.Which("mount") == null || RealTools.Which("losetup") == null) return "mount/losetup not installed";
        try
        {
            if (!File.ReadAllText("/proc/filesystems").Contains("btrfs") && RealTools.Run("modprobe", "btrfs").ExitCode != 0)
                return "kernel has no btrfs";
        }
        catch (Exception ex) { return "cannot probe the kernel: " + ex.Message; }
        return null;
    }

    /// <summary>
    /// Runs <paramref name="script"/> (bash; $M = mount point) against <paramref name="image"/> mounted through a loop
    /// device, then unmounts and detaches whatever happens.
    /// </summary>
    public static void WithMounted(string image, string script, string mountOptions = "")
    {
        var mnt = Directory.CreateTempSubdirectory("btrfslite-mnt-").FullName;
        string? loop = null;
        bool mounted = false;
        try
        {
            var r = RealTools.Run("losetup", "-f", "--show", image);
            if (r.ExitCode != 0) throw new InvalidOperationException("losetup: " + r.All);
            loop = r.Stdout.Trim();
            r = mountOptions.Length > 0 ? RealTools.Run("mount", "-t", "btrfs", "-o", mountOptions, loop, mnt) : RealTools.Run("mount", "-t", "btrfs", loop, mnt);
            if (r.ExitCode != 0) throw new InvalidOperationException("mount: " + r.All);
            mounted = true;
            r = RealTools.Run("bash", "-euo", "pipefail", "-c", $"M='{mnt}'\ncd \"$M\"\n{script}\nsync");
            if (r.ExitCode != 0) throw new InvalidOperationException("script failed: " + r.All);
        }
        finally
        {
            if (mounted) RealTools.Run("umount", mnt);
            if (loop != null) RealTools.Run("losetup", "-d", loop);
            try { Directory.Delete(mnt); } catch (IOException) { }
        }
    }

    /// <summary>
    /// Files of several sizes (many, so trees get nodes), a subvolume, snapshots of it and of the top volume, reflinks,
    /// prealloc, NODATASUM (chattr +C), then changes after the snapshots so blocks get FULL_BACKREF and SHARED refs.
    /// </summary>
    public const string RichScript = """
        mkdir -p d1 d2
        for i in $(seq 1 1500); do echo "file $i" > d1/f$i; done
        for i in $(seq 1 300); do head -c $((i * 997)) /dev/urandom > d2/g$i; done
        head -c 3000000 /dev/urandom > big
        btrfs subvolume create sv >/dev/null
        for i in $(seq 1 400); do head -c 5000 /dev/urandom > sv/s$i; done
        head -c 1000000 /dev/urandom > sv/data
        cp --reflink=always big big.reflink
        cp --reflink=always sv/data sv/data.reflink
        fallocate -l 1M prealloc
        touch nocow && chattr +C nocow && head -c 200000 /dev/urandom > nocow
        sync
        btrfs subvolume snapshot sv sv-snap >/dev/null
        btrfs subvolume snapshot -r . top-snap >/dev/null
        sync
        # copy-on-write after the snapshots: shared leaves get FULL_BACKREF, their data SHARED_DATA_REF
        for i in $(seq 1 1500 7); do echo changed >> d1/f$i; done
        dd if=/dev/urandom of=big bs=4096 count=10 seek=20 conv=notrunc status=none
        dd if=/dev/urandom of=sv/data bs=4096 count=3 seek=5 conv=notrunc status=none
        for i in $(seq 1 400 5); do rm sv/s$i; done
        for i in $(seq 1 400 9); do echo x >> sv-snap/s$i; done
        dd if=/dev/urandom of=prealloc bs=4096 count=2 seek=10 conv=notrunc status=none
        rm -f d2/g1 d2/g2
        """;

    /// <summary>mkfs + the rich script; returns the image path.</summary>
    public static string MakeRich(TempDir tmp, string name, long size, params string[] mkfsArgs)
    {
        var img = RealTools.Mkfs(tmp.File(name + ".img"), size, mkfsArgs);
        WithMounted(img, RichScript);
        return img;
    }
}

/// <summary>A loop device over a new sparse file of <c>size</c> bytes; detached on dispose (tests that run as root).</summary>
public sealed class LoopDevice : IDisposable
{
    public string Device { get; }

    public LoopDevice(string file, long size)
    {
        using (var f = File.Create(file)) f.SetLength(size);
        var r = RealTools.Run("losetup", "-f", "--show", file);
        Assert.True(r.ExitCode == 0, r.All);
        Device = r.Stdout.Trim();
    }

    public void Dispose() => RealTools.Run("losetup", "-d", Device);
}
