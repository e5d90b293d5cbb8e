const path = require("path");
module.exports = {
  mode: process.env.NODE_ENV || "development",
  entry: "./src/index.tsx",
  output: { path: path.resolve(__dirname, "dist"), filename: "[name].[contenthash].js" },
  devServer: { port: 3000, proxy: { "/api": "http://localhost:8080" } },
  plugins: [
    new DefinePlugin({ "process.env.API_KEY": JSON.stringify(process.env.API_KEY) }),
  ],
  resolve: { extensions: [".ts", ".tsx", ".js"] },
};
