// The dashboard is served by the API at /dashboard/ (locally by `twinledger api` / `twinledger up`, in AWS from
// S3 behind CloudFront): every asset is bundled, nothing is loaded from elsewhere at run time.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/dashboard/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1200,
    target: "es2022",
  },
});
