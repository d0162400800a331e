using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Benchmarks.Scenarios;

/// <summary>
/// Offers one frame at a steady rate on a device in a namespace, as iperf3's pacing does: every
/// millisecond tick sends what the rate owes since the start (one <c>sendmmsg</c> on an AF_PACKET
/// socket), so bursts stay at about rate / 1000 frames (150 at 150 k/s) and a late tick only
/// catches up. trafgen's <c>-b</c> was measured bursting over 1,000 frames within a millisecond
/// here, which overflows any TAP's 1,000-frame queue whatever its reader does; its <c>-t</c> gap
/// sleeps once per frame and stops near 35 k/s.
/// </summary>
/// <remarks>
/// The sending runs in a process of its own (<see cref="SendApart"/>, the hidden verb
/// <c>pace</c>) at real-time priority (SCHED_FIFO) where the kernel allows it, fully compiled
/// before its clock starts and with tiered compilation off, as a hardware tester sends on time
/// whatever the device under test does. On a thread of the scenario's process it shared that
/// process's collections (node log readers, HTTP polls allocate), and its methods' first calls
/// and tier-up (twice at 127 ms into a run) held ticks for milliseconds. What is left is the
/// machine's own: on this VM a real-time C program sleeping 1 ms wakes 2-5 ms late 10-30 times
/// in 4 s, and now and then 15-40 ms late; such a burst is printed (largest burst) and a step
/// whose burst passed the device's queue runs again.
/// </remarks>
internal static unsafe class PacedFrameSender
{
    private const int AfPacket = 17;
    private const int SockRaw = 3;
    private const int MaxPerCall = 1024;

    /// <summary>sockaddr_ll: family, protocol (network order), ifindex, hatype, pkttype, halen, addr[8].</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct SockAddrLl
    {
        public ushort Family;
        public ushort Protocol;
        public int IfIndex;
        public ushort HaType;
        public byte PktType;
        public byte HaLength;
        public ulong Address;
    }

    /// <summary>
    /// Sends <paramref name="frame"/> <paramref name="count"/> times at <paramref name="perSecond"/>
    /// frames/s on <paramref name="device"/> (interface index <paramref name="ifIndex"/>) in
    /// namespace <paramref name="netns"/>; returns the frames offered (<paramref name="count"/>),
    /// how many of them the sending kernel refused (its queue full: lost as well) and the seconds it took.
    /// </summary>
    /// <returns>
    /// Frames offered and refused, the time it took, and the most frames sent in one tick: a tick
    /// that woke late (the sender's thread not scheduled) owes more frames than a millisecond's and
    /// sends them at once, a burst the paced rate does not have.
    /// </returns>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // compiled once, fully: no tier-up or OSR compile on this thread mid-run
    public static (long Offered, long Refused, double Seconds, long MaxBurst) Send(string netns, int ifIndex, byte[] frame, long count, int perSecond)
    {
        int fd = TapPort.InNamespace(netns, () => LinuxNative.Socket(AfPacket, SockRaw, 0));
        if (fd < 0) throw new IOException($"AF_PACKET socket in {netns}: {LinuxNative.Describe(LinuxNative.LastError)}");
        var address = (SockAddrLl*)NativeMemory.AllocZeroed((nuint)sizeof(SockAddrLl));
        var iov = (LinuxNative.IoVec*)NativeMemory.AllocZeroed((nuint)sizeof(LinuxNative.IoVec));
        var messages = (LinuxNative.MMsgHdr*)NativeMemory.AllocZeroed((nuint)(MaxPerCall * sizeof(LinuxNative.MMsgHdr)));
        var pinned = GCHandle.Alloc(frame, GCHandleType.Pinned);
        try
        {
            *address = new SockAddrLl { Family = AfPacket, Protocol = (ushort)System.Net.IPAddress.HostToNetworkOrder((short)EtherType.Ipv4), IfIndex = ifIndex };
            *iov = new LinuxNative.IoVec { Base = (byte*)pinned.AddrOfPinnedObject(), Length = (nuint)frame.Length };
            for (int i = 0; i < MaxPerCall; i++)
            {
                messages[i].Header = new LinuxNative.MsgHdr { Name = address, NameLength = (uint)sizeof(SockAddrLl), Iov = iov, IovLength = 1 };
            }

            // Everything the loop calls, once before the clock starts (first calls compile stubs).
            var clock = Stopwatch.StartNew();
            _ = Math.Min(count, (long)(clock.Elapsed.TotalSeconds * perSecond));
            _ = LinuxNative.SendMMsg(fd, messages, 0, 0);
            _ = LinuxNative.LastError;
            Thread.Sleep(1);
            long sent = 0, refused = 0, maxBurst = 0;
            clock.Restart();
            while (sent < count)
            {
                long owed = Math.Min(count, (long)(clock.Elapsed.TotalSeconds * perSecond)) - sent;
                maxBurst = Math.Max(maxBurst, owed);
                while (owed > 0)
                {
                    int n = LinuxNative.SendMMsg(fd, messages, (uint)Math.Min(owed, MaxPerCall), 0);
                    if (n <= 0)
                    {
                        int errno = LinuxNative.LastError;
                        if (errno == LinuxNative.EINTR) continue;
                        if (errno is not (LinuxNative.EAGAIN or LinuxNative.ENOBUFS)) throw new IOException($"sendmmsg on ifindex {ifIndex}: {LinuxNative.Describe(errno)}");
                        n = 1; // the first frame was refused: offered and lost
                        refused++;
                    }

                    sent += n;
                    owed -= n;
                }

                Thread.Sleep(1);
            }

            return (sent, refused, clock.Elapsed.TotalSeconds, maxBurst);
        }
        finally
        {
            pinned.Free();
            NativeMemory.Free(messages);
            NativeMemory.Free(iov);
            NativeMemory.Free(address);
            LinuxNative.Close(fd);
        }
    }

    /// <summary>
    /// <see cref="Send"/> in a child process (<c>pace NETNS IFINDEX FRAME-HEX COUNT RATE</c>), at
    /// real-time priority where allowed; the same figures back.
    /// </summary>
    public static (long Offered, long Refused, double Seconds, long MaxBurst) SendApart(string netns, int ifIndex, byte[] frame, long count, int perSecond)
    {
        var self = Environment.ProcessPath ?? "dotnet";
        var info = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true };
        info.Environment["DOTNET_TieredCompilation"] = "0"; // every method compiled once, fully: no tier-up mid-run
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") info.ArgumentList.Add(typeof(PacedFrameSender).Assembly.Location);
        foreach (var a in new[] { "pace", netns, $"{ifIndex}", Convert.ToHexString(frame), $"{count}", $"{perSecond}" }) info.ArgumentList.Add(a);
        using var child = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {self} pace");
        var said = child.StandardOutput.ReadToEndAsync();
        var err = child.StandardError.ReadToEndAsync();
        if (!child.WaitForExit(TimeSpan.FromSeconds(30 + 3.0 * count / perSecond)))
        {
            child.Kill();
            throw new TimeoutException($"pace on {netns} did not finish");
        }

        child.WaitForExit();
        if (err.Result.Length > 0) Console.Error.Write(err.Result);
        var f = said.Result.Trim().Split('\n')[^1].Split(' ');
        if (child.ExitCode != 0 || f.Length != 4) throw new InvalidOperationException($"pace failed ({child.ExitCode}): {said.Result}{err.Result}");
        return (long.Parse(f[0], CultureInfo.InvariantCulture), long.Parse(f[1], CultureInfo.InvariantCulture),
            double.Parse(f[2], CultureInfo.InvariantCulture), long.Parse(f[3], CultureInfo.InvariantCulture));
    }

    /// <summary>The child's side of <see cref="SendApart"/>: prints "offered refused seconds max-burst".</summary>
    public static int Pace(string[] args)
    {
        if (args.Length != 5)
        {
            Console.Error.WriteLine("usage: Fabric.Benchmarks pace NETNS IFINDEX FRAME-HEX COUNT FRAMES-PER-SECOND");
            return 2;
        }

        int priority = 10;
        if (LinuxNative.SchedSetScheduler(0, LinuxNative.SCHED_FIFO, &priority) != 0) // 0: this thread
        {
            Console.Error.WriteLine($"pace: SCHED_FIFO refused ({LinuxNative.Describe(LinuxNative.LastError)}); sending at normal priority");
        }

        var (offered, refused, seconds, maxBurst) = Send(args[0], int.Parse(args[1], CultureInfo.InvariantCulture), Convert.FromHexString(args[2]),
            long.Parse(args[3], CultureInfo.InvariantCulture), int.Parse(args[4], CultureInfo.InvariantCulture));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{offered} {refused} {seconds:0.000} {maxBurst}"));
        return 0;
    }

    /// <summary>A 60-byte Ethernet/IPv4/UDP frame (64 with the FCS): 18 bytes of zero payload to port 9.</summary>
    public static byte[] Udp64(MacAddress destinationMac, Ipv4Address source, Ipv4Address destination)
    {
        var udp = new UdpRepr(40000, 9, 18);
        var ip = new Ipv4Repr(source, destination, IpProtocol.Udp, udp.BufferLength);
        var frame = new byte[EthernetLayout.HeaderLength + ip.BufferLength];
        udp.Emit(frame.AsSpan(EthernetLayout.HeaderLength + Ipv4Layout.MinimumHeaderLength), source, destination);
        ip.Emit(frame.AsSpan(EthernetLayout.HeaderLength));
        new EthernetRepr(MacAddress.Parse("02:00:00:00:64:01"), destinationMac, EtherType.Ipv4).Emit(frame);
        return frame;
    }
}
