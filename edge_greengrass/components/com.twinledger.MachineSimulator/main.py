"""com.twinledger.MachineSimulator: the seeded CNC fleet as an OPC UA server."""

from __future__ import annotations

import sys

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

from edge_greengrass.greengrass import simulator_main

if __name__ == "__main__":
    sys.exit(simulator_main(GreengrassCoreIPCClientV2(), sys.argv[1:]))
